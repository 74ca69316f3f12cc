import { createServer, request as httpRequest } from 'node:http';
import { connect as h2connect, createServer as createH2Server } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { PassThrough, Readable } from 'node:stream';
import fc from 'fast-check';
import { context, propagation, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { resetReports } from '../sdk/report.js';
import {
  createHttpServerTracing,
  ERROR_TYPE_ABORTED,
  ERROR_TYPE_OTHER,
  requestTraceOf,
} from './server-tracing.js';
import {
  diagMessages,
  exporter,
  installGlobalSdk,
  rawGet,
  sampledWith,
  serve,
  type TestServer,
  waitForSpans,
} from './test-setup.js';

const TRACE_ID = '0af7651916cd43dd8448eb211c80319c';
const PARENT_ID = 'b7ad6b7169203331';

let current: TestServer | undefined;

beforeAll(() => installGlobalSdk());
afterEach(async () => {
  await current?.close();
  current = undefined;
  exporter.reset();
  sampledWith.length = 0;
  diagMessages.length = 0;
  resetReports();
});

async function start(...args: Parameters<typeof serve>): Promise<TestServer> {
  current = await serve(...args);
  return current;
}

async function onlySpan(): Promise<ReadableSpan> {
  const spans = await waitForSpans(1);
  // give a stray second span (a double end) the chance to show up before asserting there is one
  await new Promise((r) => setTimeout(r, 20));
  expect(exporter.getFinishedSpans()).toHaveLength(1);
  return spans[0] as ReadableSpan;
}

const ok = (_req: unknown, res: import('node:http').ServerResponse) => {
  res.end('ok');
};

describe('naming and attributes', () => {
  it('names the span "{method} {route}" and sets every attribute of a plain request', async () => {
    const s = await start(undefined, (_req, res, t) => {
      t.setRoute('/users/:id');
      res.end('user 42');
    });
    let localPort = 0;
    await new Promise<void>((resolve, reject) => {
      const r = httpRequest(
        `${s.url}/users/42?expand=true`,
        { headers: { 'user-agent': 'tests/1.0' } },
        (res) => {
          res.resume();
          res.on('end', resolve);
        },
      );
      r.on('socket', (sock) => sock.on('connect', () => (localPort = sock.localPort ?? 0)));
      r.on('error', reject);
      r.end();
    });
    const span = await onlySpan();
    expect(span.name).toBe('GET /users/:id');
    expect(span.kind).toBe(SpanKind.SERVER);
    expect(span.instrumentationScope).toMatchObject({ name: '@tracewire/test', version: '1.2.3' });
    expect(span.attributes).toEqual({
      'http.request.method': 'GET',
      'url.path': '/users/42',
      'url.query': 'expand=true',
      'url.scheme': 'http',
      'server.address': '127.0.0.1',
      'server.port': s.port,
      'client.address': '127.0.0.1',
      'network.peer.address': '127.0.0.1',
      'network.peer.port': localPort,
      'network.protocol.version': '1.1',
      'user_agent.original': 'tests/1.0',
      'http.route': '/users/:id',
      'http.response.status_code': 200,
    });
    expect(span.status.code).toBe(SpanStatusCode.UNSET);
  });

  it('gives the sampler the request attributes at span start (not the route or status)', async () => {
    const s = await start({ captureHeaders: { request: ['x-tenant'] } }, (_req, res, t) => {
      t.setRoute('/users/:id');
      res.end();
    });
    await fetch(`${s.url}/users/7?q=1`, { headers: { 'x-tenant': 'acme', 'user-agent': 'ua' } });
    await onlySpan();
    expect(sampledWith).toHaveLength(1);
    const seen = sampledWith[0];
    expect(seen?.name).toBe('GET');
    expect(seen?.attributes).toMatchObject({
      'http.request.method': 'GET',
      'url.scheme': 'http',
      'url.path': '/users/7',
      'url.query': 'q=1',
      'server.address': '127.0.0.1',
      'server.port': s.port,
      'client.address': '127.0.0.1',
      'user_agent.original': 'ua',
      'http.request.header.x-tenant': ['acme'],
    });
    expect(seen?.attributes).not.toHaveProperty('http.route');
    expect(seen?.attributes).not.toHaveProperty('http.response.status_code');
  });

  it('names the span "{method}" when no route is known, never the raw path', async () => {
    const s = await start(undefined, ok);
    await fetch(`${s.url}/users/42`, { method: 'DELETE' });
    const span = await onlySpan();
    expect(span.name).toBe('DELETE');
    expect(span.attributes['http.route']).toBeUndefined();
    expect(span.attributes['url.path']).toBe('/users/42');
  });

  it('uses the last route set (a more specific router wins)', async () => {
    const s = await start(undefined, (_req, res, t) => {
      t.setRoute('/api/*');
      t.setRoute('/api/orders/:orderId');
      t.setRoute(''); // ignored: not a template
      res.end();
    });
    await fetch(`${s.url}/api/orders/9`, { method: 'POST', body: 'x' });
    const span = await onlySpan();
    expect(span.name).toBe('POST /api/orders/:orderId');
    expect(span.attributes['http.route']).toBe('/api/orders/:orderId');
  });

  it('never overwrites an http.route set on the span by user code, and names the span after it', async () => {
    const s = await start(undefined, (_req, res, t) => {
      trace.getActiveSpan()?.setAttribute('http.route', '/v2/users/{id}');
      t.setRoute('/users/:id');
      res.end();
    });
    await fetch(`${s.url}/users/1`);
    const span = await onlySpan();
    expect(span.attributes['http.route']).toBe('/v2/users/{id}');
    expect(span.name).toBe('GET /v2/users/{id}');
  });

  it('maps an unknown method to _OTHER, keeps the original, and names the span HTTP', async () => {
    const s = await start(undefined, (req, res, t) => {
      if (req.url === '/dav/x') t.setRoute('/dav/:file');
      res.end();
    });
    await rawGet(s.port, '/dav/x', ['Host: files.local'], 'PROPFIND');
    await rawGet(s.port, '/other', ['Host: files.local'], 'MKCOL');
    const spans = await waitForSpans(2);
    const byPath = Object.fromEntries(spans.map((sp) => [sp.attributes['url.path'], sp]));
    expect(byPath['/dav/x']?.name).toBe('HTTP /dav/:file');
    expect(byPath['/dav/x']?.attributes['http.request.method']).toBe('_OTHER');
    expect(byPath['/dav/x']?.attributes['http.request.method_original']).toBe('PROPFIND');
    expect(byPath['/other']?.name).toBe('HTTP');
    expect(byPath['/other']?.attributes['http.request.method_original']).toBe('MKCOL');
  });

  it('does not set method_original for a known method', async () => {
    const s = await start(undefined, ok);
    await fetch(s.url, { method: 'PATCH', body: '{}' });
    const span = await onlySpan();
    expect(span.attributes['http.request.method']).toBe('PATCH');
    expect(span.attributes).not.toHaveProperty('http.request.method_original');
  });

  it('replaces the known methods with OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS (read at creation)', async () => {
    const prev = process.env.OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS;
    process.env.OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS = ' GET , PROPFIND,bad method';
    let s: TestServer;
    try {
      s = await start(undefined, ok);
    } finally {
      if (prev === undefined) delete process.env.OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS;
      else process.env.OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS = prev;
    }
    await rawGet(s.port, '/a', ['Host: h'], 'PROPFIND');
    await rawGet(s.port, '/b', ['Host: h'], 'POST');
    const spans = await waitForSpans(2);
    const byPath = Object.fromEntries(spans.map((sp) => [sp.attributes['url.path'], sp]));
    expect(byPath['/a']?.name).toBe('PROPFIND');
    expect(byPath['/a']?.attributes['http.request.method']).toBe('PROPFIND');
    // a full override, not an addition: POST is no longer known
    expect(byPath['/b']?.name).toBe('HTTP');
    expect(byPath['/b']?.attributes['http.request.method_original']).toBe('POST');
    expect(diagMessages.some((m) => m.includes('OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS'))).toBe(true);
  });

  it('reports HTTP/2 requests with protocol version "2" and the :authority as server address', async () => {
    const tracing = createHttpServerTracing(undefined, { name: 'h2' });
    const server = createH2Server((req, res) => {
      const t = tracing.begin(
        req as unknown as import('node:http').IncomingMessage,
        res as unknown as import('node:http').ServerResponse,
      );
      t.setRoute('/h2/:x');
      res.end('ok');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const client = h2connect(`http://127.0.0.1:${port}`);
    await new Promise<void>((resolve, reject) => {
      const r = client.request({ ':path': '/h2/1?a=b', ':authority': `h2.example:${port}` });
      r.on('data', () => {});
      r.on('end', resolve);
      r.on('error', reject);
      r.end();
    });
    const span = await onlySpan();
    client.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    expect(span.name).toBe('GET /h2/:x');
    expect(span.attributes).toMatchObject({
      'network.protocol.version': '2',
      'server.address': 'h2.example',
      'server.port': port,
      'url.scheme': 'http',
      'url.path': '/h2/1',
      'url.query': 'a=b',
      'http.response.status_code': 200,
    });
  });
});

describe('url.query redaction', () => {
  it('redacts the signature keys and redactQueryKeys, keeping keys and other values', async () => {
    const s = await start({ redactQueryKeys: ['token'] }, ok);
    const q =
      'a=1&X-Amz-Signature=abc&X-Amz-Credential=AKIA%2F2024&X-Amz-Security-Token=tok&AWSAccessKeyId=AK' +
      '&Signature=s1&sig=s2&X-Goog-Signature=g&token=secret&Token=kept&X%2DAmz%2DSignature=enc&empty=&flag';
    await fetch(`${s.url}/download?${q}`);
    const span = await onlySpan();
    expect(span.attributes['url.query']).toBe(
      'a=1&X-Amz-Signature=REDACTED&X-Amz-Credential=REDACTED&X-Amz-Security-Token=REDACTED' +
        '&AWSAccessKeyId=REDACTED&Signature=REDACTED&sig=REDACTED&X-Goog-Signature=REDACTED' +
        '&token=REDACTED&Token=kept&X%2DAmz%2DSignature=REDACTED&empty=&flag',
    );
  });

  it('sets no url.query without a query, and an empty one for a bare "?"', async () => {
    const s = await start(undefined, ok);
    await fetch(`${s.url}/plain`);
    await rawGet(s.port, '/bare?', ['Host: h']); // raw: fetch may drop an empty query
    const spans = await waitForSpans(2);
    const byPath = Object.fromEntries(spans.map((sp) => [sp.attributes['url.path'], sp]));
    expect(byPath['/plain']?.attributes).not.toHaveProperty('url.query');
    expect(byPath['/bare']?.attributes['url.query']).toBe('');
  });

  it('takes path and query from an absolute-form request target', async () => {
    const s = await start(undefined, ok);
    await rawGet(s.port, 'http://proxy.example/abs/p?x=1', ['Host: proxy.example']);
    const span = await onlySpan();
    expect(span.attributes['url.path']).toBe('/abs/p');
    expect(span.attributes['url.query']).toBe('x=1');
    expect(span.name).toBe('GET');
  });
});

describe('server and client address', () => {
  async function attrsFor(headerLines: string[]) {
    const s = await start(undefined, ok);
    const response = await rawGet(s.port, '/where', headerLines);
    expect(response.startsWith('HTTP/1.1 200')).toBe(true);
    return (await onlySpan()).attributes;
  }

  it('prefers Forwarded over X-Forwarded-* and Host', async () => {
    const a = await attrsFor([
      'Host: internal:3000',
      'Forwarded: for="[2001:db8:cafe::17]:4711";proto=https;host="api.example.com:8443", for=10.0.0.1;host=x',
      'X-Forwarded-Host: xfh.example',
      'X-Forwarded-Proto: http',
      'X-Forwarded-For: 198.51.100.1',
    ]);
    expect(a['server.address']).toBe('api.example.com');
    expect(a['server.port']).toBe(8443);
    expect(a['url.scheme']).toBe('https');
    expect(a['client.address']).toBe('2001:db8:cafe::17');
    expect(a['network.peer.address']).toBe('127.0.0.1');
  });

  it('uses X-Forwarded-Host/-Proto/-For first hops when Forwarded is absent; default port from the scheme', async () => {
    const a = await attrsFor([
      'Host: internal:3000',
      'X-Forwarded-Host: shop.example.com, proxy.internal',
      'X-Forwarded-Proto: HTTPS, http',
      'X-Forwarded-For: 203.0.113.9:5555, 10.0.0.2',
    ]);
    expect(a['server.address']).toBe('shop.example.com');
    expect(a['server.port']).toBe(443);
    expect(a['url.scheme']).toBe('https');
    expect(a['client.address']).toBe('203.0.113.9');
  });

  it('takes each Forwarded parameter from its first occurrence', async () => {
    const a = await attrsFor([
      'Host: h',
      'Forwarded: for=192.0.2.60;proto=http, host=second.example;proto=https',
    ]);
    expect(a['server.address']).toBe('second.example');
    expect(a['server.port']).toBe(80);
    expect(a['url.scheme']).toBe('http');
    expect(a['client.address']).toBe('192.0.2.60');
  });

  it('parses IPv6 hosts with and without a port', async () => {
    expect(await attrsFor(['Host: [::1]:8080'])).toMatchObject({
      'server.address': '::1',
      'server.port': 8080,
    });
    current = await current?.close().then(() => undefined);
    exporter.reset();
    expect(await attrsFor(['Host: [2001:db8::1]'])).toMatchObject({
      'server.address': '2001:db8::1',
      'server.port': 80,
    });
  });

  it('falls back past malformed Forwarded / X-Forwarded values to Host and the socket', async () => {
    const a = await attrsFor([
      'Host: fallback.example:81',
      'Forwarded: for=unknown;host="unterminated, proto=no scheme;garbage',
      'X-Forwarded-Host: bad host/with/slash',
      'X-Forwarded-For: , 10.0.0.1',
    ]);
    expect(a['server.address']).toBe('fallback.example');
    expect(a['server.port']).toBe(81);
    expect(a['url.scheme']).toBe('http');
    expect(a['client.address']).toBe('127.0.0.1');
  });

  it('sets neither server.address nor server.port for an unusable Host', async () => {
    const a = await attrsFor(['Host: example.com:99999']);
    expect(a).not.toHaveProperty('server.address');
    expect(a).not.toHaveProperty('server.port');
  });
});

describe('arbitrary forwarding headers', () => {
  it('never break the request and always give well-typed attributes', async () => {
    const s = await start({ captureHeaders: { request: ['forwarded'] } }, ok);
    // printable ASCII without CR/LF (anything else is rejected by Node's parser before we see it)
    const value = fc.string({
      unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
      maxLength: 60,
    });
    const pieces = fc.constantFrom(
      'for=',
      'host=',
      'proto=',
      '"',
      '[',
      ']',
      ':',
      ';',
      ',',
      '::1',
      '443',
      'https',
      'a.example',
    );
    const forwarded = fc.array(fc.oneof(pieces, value), { maxLength: 8 }).map((a) => a.join(''));
    let n = 0;
    await fc.assert(
      fc.asyncProperty(forwarded, value, value, value, value, async (fwd, xff, xfh, xfp, host) => {
        const lines = [`Host: ${host.trim() || 'h'}`, `Forwarded: ${fwd}`, `X-Forwarded-For: ${xff}`];
        lines.push(`X-Forwarded-Host: ${xfh}`, `X-Forwarded-Proto: ${xfp}`);
        const response = await rawGet(s.port, '/fuzz', lines);
        expect(response.startsWith('HTTP/1.1 200')).toBe(true);
        n++;
        const spans = await waitForSpans(n);
        const a = (spans[n - 1] as ReadableSpan).attributes;
        expect(['string', 'undefined']).toContain(typeof a['server.address']);
        if (a['server.address'] !== undefined) {
          expect(Number.isInteger(a['server.port'])).toBe(true);
          expect(a['server.port']).toBeGreaterThan(0);
          expect(a['server.port']).toBeLessThan(65536);
        } else {
          expect(a).not.toHaveProperty('server.port');
        }
        expect(typeof a['client.address']).toBe('string');
        expect(a['url.scheme']).toMatch(/^[a-z][a-z0-9+.-]*$/);
      }),
      { numRuns: 60 },
    );
  });
});

describe('header capture', () => {
  it('captures listed headers as string arrays, never the secret ones even when listed', async () => {
    const s = await start(
      {
        captureHeaders: {
          request: ['X-Custom', 'Authorization', 'cookie', 'Proxy-Authorization', 'x-absent'],
          response: ['Content-Type', 'x-multi', 'Set-Cookie', 'x-num'],
        },
      },
      (_req, res) => {
        res.setHeader('content-type', 'text/plain');
        res.setHeader('x-multi', ['1', '2']);
        res.setHeader('x-num', 7);
        res.setHeader('set-cookie', ['session=secret']);
        res.end('ok');
      },
    );
    await rawGet(s.port, '/h', [
      'Host: h',
      'X-Custom: a',
      'x-custom: b',
      'Authorization: Bearer secret',
      'Cookie: session=secret',
      'Proxy-Authorization: Basic secret',
    ]);
    const span = await onlySpan();
    expect(span.attributes['http.request.header.x-custom']).toEqual(['a', 'b']);
    expect(span.attributes['http.response.header.content-type']).toEqual(['text/plain']);
    expect(span.attributes['http.response.header.x-multi']).toEqual(['1', '2']);
    expect(span.attributes['http.response.header.x-num']).toEqual(['7']);
    const keys = Object.keys(span.attributes).join(' ');
    expect(keys).not.toMatch(/authorization|cookie|x-absent/);
    expect(JSON.stringify(span.attributes)).not.toContain('secret');
    expect(diagMessages.some((m) => m.includes('"authorization"') && m.includes('never captured'))).toBe(
      true,
    );
  });

  it('survives binary, invalid UTF-8 and very large header values', async () => {
    const s = await start({ captureHeaders: { request: ['x-bin'] } }, ok);
    const big = 'v'.repeat(12_000);
    const head = Buffer.from(`GET /bin HTTP/1.1\r\nHost: h\r\nUser-Agent: ${big}\r\nX-Bin: `, 'latin1');
    const bin = Buffer.from([0xc3, 0x28, 0xff, 0xfe, 0x80]);
    const tail = Buffer.from('\r\nConnection: close\r\n\r\n', 'latin1');
    const socket = connect(s.port, '127.0.0.1');
    const text = await new Promise<string>((resolve, reject) => {
      const chunks: Buffer[] = [];
      socket.on('data', (c: Buffer) => chunks.push(c));
      socket.on('end', () => resolve(Buffer.concat(chunks).toString('latin1')));
      socket.on('error', reject);
      socket.write(Buffer.concat([head, bin, tail]));
    });
    expect(text.startsWith('HTTP/1.1 200')).toBe(true);
    const span = await onlySpan();
    expect(span.attributes['user_agent.original']).toBe(big);
    expect(span.attributes['http.request.header.x-bin']).toEqual([bin.toString('latin1')]);
  });
});

describe('propagation', () => {
  it('continues the incoming trace', async () => {
    const s = await start(undefined, ok);
    await fetch(s.url, { headers: { traceparent: `00-${TRACE_ID}-${PARENT_ID}-01` } });
    const span = await onlySpan();
    expect(span.spanContext().traceId).toBe(TRACE_ID);
    expect(span.parentSpanContext?.spanId).toBe(PARENT_ID);
    expect(span.parentSpanContext?.isRemote).toBe(true);
  });

  it('makes the server span the active span for the handler', async () => {
    let inside: string | undefined;
    const s = await start(undefined, (_req, res, t) => {
      inside = trace.getActiveSpan()?.spanContext().spanId;
      expect(t.span.spanContext().spanId).toBe(inside);
      res.end();
    });
    await fetch(s.url);
    const span = await onlySpan();
    expect(inside).toBe(span.spanContext().spanId);
  });

  it('starts a new trace for an invalid or repeated traceparent, and still serves the request', async () => {
    const s = await start(undefined, ok);
    const r1 = await rawGet(s.port, '/a', [
      'Host: h',
      `traceparent: 00-${TRACE_ID}-${PARENT_ID}-01`,
      'traceparent: x',
    ]);
    const r2 = await rawGet(s.port, '/b', ['Host: h', 'traceparent: \u00ff\u00fe-garbage']);
    expect(r1.startsWith('HTTP/1.1 200') && r2.startsWith('HTTP/1.1 200')).toBe(true);
    const spans = await waitForSpans(2);
    for (const sp of spans) {
      expect(sp.spanContext().traceId).not.toBe(TRACE_ID);
      expect(sp.parentSpanContext).toBeUndefined();
    }
  });

  it('records nothing for a not-sampled parent but keeps its context for outgoing calls', async () => {
    let outgoing: Record<string, string> = {};
    let recording: boolean | undefined;
    const s = await start(undefined, (_req, res, t) => {
      recording = t.recording;
      t.setRoute('/x');
      t.recordError(new Error('ignored'));
      propagation.inject(context.active(), outgoing);
      res.end();
    });
    await fetch(s.url, { headers: { traceparent: `00-${TRACE_ID}-${PARENT_ID}-00` } });
    await new Promise((r) => setTimeout(r, 50));
    expect(exporter.getFinishedSpans()).toHaveLength(0);
    expect(recording).toBe(false);
    expect(outgoing.traceparent?.split('-')[1]).toBe(TRACE_ID);
    outgoing = {};
  });
});

describe('ignore', () => {
  it('creates no span for ignored paths, RegExps (even global ones) and predicates', async () => {
    const recorded: string[] = [];
    const s = await start(
      { ignore: ['/healthz', /^\/metrics/g, (req) => req.headers['x-skip'] === '1'] },
      (req, res, t) => {
        recorded.push(`${req.url} ${t.recording} ${t.span.isRecording()}`);
        res.end();
      },
    );
    await fetch(`${s.url}/healthz`);
    await fetch(`${s.url}/healthz?probe=1`);
    await fetch(`${s.url}/metrics`);
    await fetch(`${s.url}/metrics/x`); // a stateful /g RegExp would let every other match through
    await fetch(`${s.url}/metrics`);
    await fetch(`${s.url}/any`, { headers: { 'x-skip': '1' } });
    await new Promise((r) => setTimeout(r, 50));
    expect(exporter.getFinishedSpans()).toHaveLength(0);
    await fetch(`${s.url}/healthz/deep`);
    const span = await onlySpan();
    expect(span.attributes['url.path']).toBe('/healthz/deep');
    expect(recorded).toEqual([
      '/healthz false false',
      '/healthz?probe=1 false false',
      '/metrics false false',
      '/metrics/x false false',
      '/metrics false false',
      '/any false false',
      '/healthz/deep true true',
    ]);
  });

  it('continues the caller trace from inside an ignored request', async () => {
    const carrier: Record<string, string> = {};
    const s = await start({ ignore: '/healthz' }, (_req, res, t) => {
      t.setRoute('/healthz');
      t.recordError(new Error('nothing to record'));
      t.end(200);
      propagation.inject(context.active(), carrier);
      res.end();
    });
    await fetch(`${s.url}/healthz`, { headers: { traceparent: `00-${TRACE_ID}-${PARENT_ID}-01` } });
    await new Promise((r) => setTimeout(r, 50));
    expect(exporter.getFinishedSpans()).toHaveLength(0);
    const [version, traceId, , flags] = carrier.traceparent?.split('-') ?? [];
    expect(version).toBe('00');
    expect(traceId).toBe(TRACE_ID);
    expect(flags).toBe('01');
  });

  it('applies predicates given without paths or RegExps; only a real true ignores, not a promise', async () => {
    // An async predicate (a JavaScript caller's mistake the types do not allow) returns a promise.
    const asyncPredicate = (async () => true) as unknown as () => boolean;
    const s = await start({ ignore: [(req) => req.headers['x-skip'] === '1', asyncPredicate] }, ok);
    await fetch(`${s.url}/skipped`, { headers: { 'x-skip': '1' } });
    await new Promise((r) => setTimeout(r, 50));
    expect(exporter.getFinishedSpans()).toHaveLength(0);
    await fetch(`${s.url}/traced`);
    const span = await onlySpan();
    expect(span.attributes['url.path']).toBe('/traced');
  });

  it('traces the request when an ignore predicate throws, and reports it through diag', async () => {
    const s = await start(
      {
        ignore: () => {
          throw new Error('predicate bug');
        },
      },
      ok,
    );
    const res = await fetch(s.url);
    expect(res.status).toBe(200);
    await onlySpan();
    expect(diagMessages.some((m) => m.includes('predicate bug'))).toBe(true);
  });
});

describe('hooks and spanName', () => {
  it('calls requestHook at start and responseHook before the end', async () => {
    const s = await start(
      {
        requestHook: (span, req) => span.setAttribute('app.req', req.url ?? ''),
        responseHook: (span, res, req) => {
          span.setAttribute('app.res', `${req.method} ${res.statusCode}`);
          span.setAttribute('app.route.seen', 'yes');
        },
      },
      (_req, res) => {
        res.statusCode = 202;
        res.end();
      },
    );
    await fetch(`${s.url}/hooked`);
    const span = await onlySpan();
    expect(span.attributes['app.req']).toBe('/hooked');
    expect(span.attributes['app.res']).toBe('GET 202');
  });

  it('serves the request normally when hooks throw, and reports through diag', async () => {
    const s = await start(
      {
        requestHook: () => {
          throw new Error('request hook bug');
        },
        responseHook: () => {
          throw new TypeError('response hook bug');
        },
      },
      (_req, res, t) => {
        t.setRoute('/r');
        res.end('fine');
      },
    );
    const res = await fetch(`${s.url}/r`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('fine');
    const span = await onlySpan();
    expect(span.name).toBe('GET /r');
    expect(span.attributes['http.response.status_code']).toBe(200);
    expect(diagMessages.some((m) => m.includes('request hook bug'))).toBe(true);
    expect(diagMessages.some((m) => m.includes('response hook bug'))).toBe(true);
  });

  it('uses spanName when it returns a non-empty string, the default otherwise', async () => {
    const results: unknown[] = ['custom name', '', 42, undefined, 'throw'];
    let i = 0;
    const routesSeen: Array<string | undefined> = [];
    const s = await start(
      {
        spanName: (req, route) => {
          routesSeen.push(route);
          const r = results[Number(req.headers['x-i'])];
          if (r === 'throw') throw new Error('name bug');
          return r as string;
        },
      },
      (_req, res, t) => {
        t.setRoute('/n/:i');
        res.end();
      },
    );
    for (i = 0; i < results.length; i++) {
      await fetch(`${s.url}/n/${i}`, { headers: { 'x-i': String(i) } });
      await waitForSpans(i + 1);
    }
    const names = exporter.getFinishedSpans().map((sp) => sp.name);
    expect(names).toEqual(['custom name', 'GET /n/:i', 'GET /n/:i', 'GET /n/:i', 'GET /n/:i']);
    expect(routesSeen.every((r) => r === '/n/:i')).toBe(true);
    expect(diagMessages.some((m) => m.includes('name bug'))).toBe(true);
  });
});

describe('status and error.type', () => {
  async function statusOf(handler: Parameters<typeof serve>[1], path = '/s'): Promise<ReadableSpan> {
    const s = await start(undefined, handler);
    await fetch(`${s.url}${path}`).then((r) => r.arrayBuffer());
    return onlySpan();
  }

  it('200 and 404: status unset, no error.type', async () => {
    const s = await start(undefined, (req, res) => {
      res.statusCode = req.url === '/missing' ? 404 : 200;
      res.end();
    });
    await fetch(`${s.url}/ok`);
    await fetch(`${s.url}/missing`);
    const spans = await waitForSpans(2);
    for (const sp of spans) {
      expect(sp.status.code).toBe(SpanStatusCode.UNSET);
      expect(sp.attributes).not.toHaveProperty('error.type');
    }
    expect(spans.map((sp) => sp.attributes['http.response.status_code']).sort()).toEqual([200, 404]);
  });

  it('500 without an exception: ERROR with error.type "500"', async () => {
    const span = await statusOf((_req, res) => {
      res.statusCode = 500;
      res.end();
    });
    expect(span.status.code).toBe(SpanStatusCode.ERROR);
    expect(span.attributes['error.type']).toBe('500');
    expect(span.attributes['http.response.status_code']).toBe(500);
    expect(span.events).toHaveLength(0);
  });

  it('an exception answered with 500: ERROR with the exception type and one exception event', async () => {
    class ValidationError extends Error {}
    const span = await statusOf((_req, res, t) => {
      const err = new ValidationError('bad input');
      t.recordError(err);
      t.recordError(err); // Express passes the same error through several handlers
      res.statusCode = 503;
      res.end();
    });
    expect(span.status).toEqual({ code: SpanStatusCode.ERROR, message: 'bad input' });
    expect(span.attributes['error.type']).toBe('ValidationError');
    expect(span.attributes['http.response.status_code']).toBe(503);
    expect(span.events.map((e) => e.name)).toEqual(['exception']);
    expect(span.events[0]?.attributes?.['exception.message']).toBe('bad input');
  });

  it('an exception answered with 400 was handled: status unset, no error.type, event kept', async () => {
    const span = await statusOf((_req, res, t) => {
      t.recordError(new TypeError('bad request'));
      res.statusCode = 400;
      res.end();
    });
    expect(span.status.code).toBe(SpanStatusCode.UNSET);
    expect(span.attributes).not.toHaveProperty('error.type');
    expect(span.events.map((e) => e.name)).toEqual(['exception']);
  });

  it('a thrown non-Error gives error.type _OTHER; distinct errors are each recorded', async () => {
    const span = await statusOf((_req, res, t) => {
      t.recordError(new RangeError('first'));
      t.recordError('a string was thrown');
      res.statusCode = 500;
      res.end();
    });
    expect(span.attributes['error.type']).toBe(ERROR_TYPE_OTHER);
    expect(span.events).toHaveLength(2);
  });

  async function abortDuring(handler: Parameters<typeof serve>[1]): Promise<ReadableSpan> {
    const s = await start(undefined, handler);
    const socket = connect(s.port, '127.0.0.1');
    socket.on('error', () => {});
    socket.write('GET /slow HTTP/1.1\r\nHost: h\r\n\r\n');
    // Wait for the first byte (or a moment) and hang up before the response is complete.
    await new Promise<void>((resolve) => {
      socket.once('data', () => resolve());
      setTimeout(resolve, 100);
    });
    socket.destroy();
    return onlySpan();
  }

  it('a client abort before any response: ERROR, error.type "aborted", no status code', async () => {
    let timer: NodeJS.Timeout | undefined;
    const span = await abortDuring((_req, res) => {
      timer = setTimeout(() => res.end('too late'), 2000);
    });
    clearTimeout(timer);
    expect(span.status.code).toBe(SpanStatusCode.ERROR);
    expect(span.attributes['error.type']).toBe(ERROR_TYPE_ABORTED);
    expect(span.attributes).not.toHaveProperty('http.response.status_code');
  });

  it('an abort in the middle of a 200 body: ERROR "aborted" with the status code that was sent', async () => {
    let timer: NodeJS.Timeout | undefined;
    const span = await abortDuring((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('partial');
      timer = setTimeout(() => res.end('rest'), 2000);
    });
    clearTimeout(timer);
    expect(span.status.code).toBe(SpanStatusCode.ERROR);
    expect(span.attributes['error.type']).toBe('aborted');
    expect(span.attributes['http.response.status_code']).toBe(200);
  });

  it('an exception and then the connection closes without a response: ERROR with the exception type', async () => {
    const span = await abortDuring((_req, res, t) => {
      t.recordError(new RangeError('stream failed'));
      res.destroy();
    });
    expect(span.status.code).toBe(SpanStatusCode.ERROR);
    expect(span.attributes['error.type']).toBe('RangeError');
  });
});

describe('the end of the span', () => {
  it('ends a streamed response when the last byte is written, not when the handler returns', async () => {
    const s = await start(undefined, (_req, res) => {
      const body = new PassThrough();
      body.pipe(res);
      let n = 0;
      const tick = setInterval(() => {
        body.write(`chunk ${n}\n`);
        if (++n === 4) {
          clearInterval(tick);
          body.end();
        }
      }, 40);
    });
    const before = Date.now();
    const text = await fetch(s.url).then((r) => r.text());
    const elapsed = Date.now() - before;
    expect(text.split('\n').filter(Boolean)).toHaveLength(4);
    const span = await onlySpan();
    const durationMs = span.duration[0] * 1e3 + span.duration[1] / 1e6;
    expect(durationMs).toBeGreaterThanOrEqual(150);
    expect(durationMs).toBeLessThanOrEqual(elapsed + 5);
    expect(span.attributes['http.response.status_code']).toBe(200);
  });

  it('ends a piped Readable at its end', async () => {
    const s = await start(undefined, (_req, res) => {
      Readable.from(
        (async function* () {
          for (let i = 0; i < 3; i++) {
            await new Promise((r) => setTimeout(r, 30));
            yield `part ${i}`;
          }
        })(),
      ).pipe(res);
    });
    expect(await fetch(s.url).then((r) => r.text())).toBe('part 0part 1part 2');
    const span = await onlySpan();
    const durationMs = span.duration[0] * 1e3 + span.duration[1] / 1e6;
    expect(durationMs).toBeGreaterThanOrEqual(80);
  });

  it('ends exactly once: explicit end() wins, later ends and the close are ignored', async () => {
    const s = await start(undefined, (_req, res, t) => {
      t.end(201);
      t.end(500);
      t.recordError(new Error('after the end'));
      res.statusCode = 500;
      res.end();
    });
    await fetch(s.url);
    const span = await onlySpan();
    expect(span.attributes['http.response.status_code']).toBe(201);
    expect(span.status.code).toBe(SpanStatusCode.UNSET);
    expect(span.events).toHaveLength(0);
  });

  it('gives one span when begin is called twice for the same response (nested middleware)', async () => {
    const inner = createHttpServerTracing(undefined, { name: 'inner' });
    let same = false;
    const s = await start(undefined, (req, res, outer) => {
      const again = inner.begin(req, res);
      same = again === outer;
      again.setRoute('/nested/:x');
      res.end();
    });
    await fetch(`${s.url}/nested/1`);
    const span = await onlySpan();
    expect(same).toBe(true);
    expect(span.name).toBe('GET /nested/:x');
  });

  it('requestTraceOf finds a traceInContext request from its context and its children, nothing elsewhere', async () => {
    const inContext = createHttpServerTracing(undefined, { name: 'in-context' }, { traceInContext: true });
    const onRes = createHttpServerTracing(undefined, { name: 'on-res' });
    const found: Record<string, boolean> = {};
    const server = createServer((req, res) => {
      found.root = requestTraceOf(context.active()) === undefined;
      if (req.url === '/on-res') {
        const t = onRes.begin(req, res);
        context.with(t.context, () => {
          found.onRes = requestTraceOf(context.active()) === undefined;
        });
        res.end();
        return;
      }
      const t = inContext.begin(req, res);
      context.with(t.context, () => {
        found.own = requestTraceOf(context.active()) === t;
        const child = trace.getTracer('t').startSpan('child');
        context.with(trace.setSpan(context.active(), child), () => {
          // e.g. an exception seen in an @Traced() method: recorded on the request's span
          requestTraceOf(context.active())?.recordError(new RangeError('seen deeper'));
        });
        child.end();
        res.statusCode = 503;
        res.end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    await fetch(`http://127.0.0.1:${port}/in-context`);
    await fetch(`http://127.0.0.1:${port}/on-res`);
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await waitForSpans(3);
    expect(found).toEqual({ root: true, own: true, onRes: true });
    const server503 = exporter
      .getFinishedSpans()
      .find((x) => x.attributes['http.response.status_code'] === 503)!;
    expect(server503.attributes['error.type']).toBe('RangeError');
    expect(server503.events.map((e) => e.attributes?.['exception.message'])).toEqual(['seen deeper']);
  });

  it('with traceInContext: one span for a second begin inside the trace context, nothing added to res', async () => {
    const outer = createHttpServerTracing(undefined, { name: 'outer' }, { traceInContext: true });
    const inner = createHttpServerTracing(undefined, { name: 'inner' }, { traceInContext: true });
    let same = false;
    let outside = false;
    let symbols: symbol[] = [];
    const server = createServer((req, res) => {
      const t = outer.begin(req, res);
      symbols = Object.getOwnPropertySymbols(res).filter((k) => k.description?.startsWith('tracewire'));
      // Outside the trace's context the response is not recognised (the documented condition).
      outside = inner.begin(req, res) !== t;
      context.with(t.context, () => {
        const again = inner.begin(req, res);
        same = again === t;
        again.setRoute('/in-context/:x');
      });
      res.end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    await fetch(`http://127.0.0.1:${port}/in-context/1`);
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await waitForSpans(2);
    await new Promise((r) => setTimeout(r, 20));
    const spans = exporter.getFinishedSpans();
    expect(same).toBe(true);
    expect(outside).toBe(true);
    expect(symbols).toEqual([]);
    // The span begun outside the context, and the outer one named by the begin made inside it.
    expect(spans.map((x) => x.name).sort()).toEqual(['GET', 'GET /in-context/:x']);
  });

  it('ends a span begun after the response already closed instead of leaking it', async () => {
    const tracing = createHttpServerTracing(undefined, { name: 'late' });
    const server = createServer((req, res) => {
      res.on('close', () => setImmediate(() => tracing.begin(req, res)));
      res.statusCode = 204;
      res.end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    await fetch(`http://127.0.0.1:${port}/late`);
    const span = await onlySpan();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    expect(span.attributes['http.response.status_code']).toBe(204);
    expect(span.status.code).toBe(SpanStatusCode.UNSET);
  });

  it('gives one span per request on a keep-alive connection', async () => {
    const s = await start(undefined, (req, res, t) => {
      t.setRoute(req.url ?? '/');
      res.end();
    });
    const socket = connect(s.port, '127.0.0.1');
    const wanted = 3;
    const done = new Promise<void>((resolve) => {
      let seen = '';
      socket.on('data', (c: Buffer) => {
        seen += c.toString();
        if ((seen.match(/HTTP\/1\.1 200/g) ?? []).length === wanted) resolve();
      });
    });
    socket.write(
      'GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\nGET /3 HTTP/1.1\r\nHost: h\r\n\r\n',
    );
    await done;
    socket.destroy();
    const spans = await waitForSpans(3);
    await new Promise((r) => setTimeout(r, 20));
    expect(
      exporter
        .getFinishedSpans()
        .map((sp) => sp.name)
        .sort(),
    ).toEqual(['GET /1', 'GET /2', 'GET /3']);
    for (const sp of spans) expect(sp.status.code).toBe(SpanStatusCode.UNSET);
  });
});

describe('options and failures', () => {
  it('rejects bad options with a TypeError naming the option', () => {
    const scope = { name: 's' };
    const bad: Array<[unknown, RegExp]> = [
      ['nope', /options must be an object/],
      [{ ignore: 42 }, /"ignore"/],
      [{ ignore: ['/ok', null] }, /"ignore"/],
      [{ requestHook: 'x' }, /"requestHook" must be a function/],
      [{ responseHook: {} }, /"responseHook"/],
      [{ spanName: 1 }, /"spanName"/],
      [{ captureHeaders: ['x'] }, /"captureHeaders"/],
      [{ captureHeaders: { request: 'x-a' } }, /"captureHeaders.request"/],
      [{ captureHeaders: { response: ['bad header'] } }, /"captureHeaders.response"/],
      [{ redactQueryKeys: 'token' }, /"redactQueryKeys"/],
      [{ redactQueryKeys: [''] }, /"redactQueryKeys"/],
      [{ tracerProvider: {} }, /"tracerProvider"/],
    ];
    for (const [options, message] of bad) {
      expect(() => createHttpServerTracing(options as never, scope)).toThrow(TypeError);
      expect(() => createHttpServerTracing(options as never, scope)).toThrow(message);
    }
    expect(() => createHttpServerTracing(undefined, { name: '' })).toThrow(TypeError);
  });

  it('never throws from begin, even when an adapter passes garbage', () => {
    const tracing = createHttpServerTracing(undefined, { name: 'garbage' });
    const t = tracing.begin(undefined as never, undefined as never);
    expect(t.recording).toBe(false);
    expect(() => {
      t.setRoute('/x');
      t.recordError(new Error('x'));
      t.end(200);
    }).not.toThrow();
    const t2 = tracing.begin({ headers: 42, method: 7, url: {} } as never, {} as never);
    expect(t2.recording).toBe(false);
    expect(diagMessages.some((m) => m.includes('could not start the server span'))).toBe(true);
  });

  it('uses the given tracerProvider instead of the global one', async () => {
    const own = new InMemorySpanExporter();
    const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(own)] });
    const s = await start({ tracerProvider }, ok);
    await fetch(s.url);
    const until = Date.now() + 2000;
    while (own.getFinishedSpans().length === 0 && Date.now() < until)
      await new Promise((r) => setTimeout(r, 5));
    expect(own.getFinishedSpans()).toHaveLength(1);
    expect(exporter.getFinishedSpans()).toHaveLength(0);
  });

  it('serves the request untraced when the tracer itself throws', async () => {
    const tracerProvider = {
      getTracer: () => ({
        startSpan: () => {
          throw new Error('tracer bug');
        },
        startActiveSpan: () => {
          throw new Error('tracer bug');
        },
      }),
    };
    const carrier: Record<string, string> = {};
    const s = await start({ tracerProvider: tracerProvider as never }, (_req, res, t) => {
      expect(t.recording).toBe(false);
      propagation.inject(context.active(), carrier);
      res.end('still served');
    });
    const res = await fetch(s.url, { headers: { traceparent: `00-${TRACE_ID}-${PARENT_ID}-01` } });
    expect(await res.text()).toBe('still served');
    expect(carrier.traceparent?.split('-')[1]).toBe(TRACE_ID);
    expect(diagMessages.some((m) => m.includes('tracer bug'))).toBe(true);
  });
});

import { execFileSync } from 'node:child_process';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { context, type DiagLogger, DiagLogLevel, diag } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { type OtlpReceiver, startOtlpReceiver } from '@tracewire/test-utils';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { resetReports } from '../sdk/report.js';
import { type ExportResult, ExportResultCode, type ReadableSpan } from '../sdk/types.js';
import { type CountedExportResult, OtlpHttpExporter, parseRetryAfter } from './otlp-http-exporter.js';
import { isTracingSuppressed } from './suppress.js';
import { exportOnce, httpSpans, testSpan } from './test-spans.js';
import { SDK_VERSION } from '../sdk/version.js';

const exportSpans = (exporter: OtlpHttpExporter, spans: ReadableSpan[]) =>
  exportOnce<CountedExportResult>(exporter, spans);
const spans = httpSpans;

/** Collects diag messages (the user-visible channel for export problems). */
function captureDiag() {
  const messages: string[] = [];
  const push = (m: string) => messages.push(m);
  const logger: DiagLogger = { error: push, warn: push, info: push, debug: () => {}, verbose: () => {} };
  diag.setLogger(logger, { logLevel: DiagLogLevel.INFO, suppressOverrideMessage: true });
  return messages;
}

let receiver: OtlpReceiver;
const exporters: OtlpHttpExporter[] = [];
const make = (opts: ConstructorParameters<typeof OtlpHttpExporter>[0] = {}) => {
  const e = new OtlpHttpExporter({ url: receiver.tracesUrl, env: {}, ...opts });
  exporters.push(e);
  return e;
};

beforeEach(async () => {
  receiver = await startOtlpReceiver();
  resetReports();
});
afterEach(async () => {
  await Promise.all(exporters.splice(0).map((e) => e.shutdown()));
  await receiver.close();
  diag.disable();
});

describe('OtlpHttpExporter: protocols, headers, compression', () => {
  it('sends protobuf by default to the URL, with User-Agent and content type', async () => {
    const r = await exportSpans(make(), spans(3));
    expect(r.code).toBe(ExportResultCode.SUCCESS);
    expect(receiver.requests).toHaveLength(1);
    const req = receiver.requests[0]!;
    expect(req.url).toBe('/v1/traces');
    expect(req.headers['content-type']).toBe('application/x-protobuf');
    expect(req.headers['user-agent']).toBe(`tracewire-otlp-exporter/${SDK_VERSION}`);
    expect(req.headers['content-encoding']).toBeUndefined();
    expect(receiver.spans().map((s) => s.name)).toEqual(['span-0', 'span-1', 'span-2']);
    expect(receiver.spans()[1]!.attributes['url.path']).toBe('/users/1');
  });

  it('User-Agent carries the package version', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
    expect(SDK_VERSION).toBe(pkg.version);
  });

  it('sends OTLP/JSON when protocol is http/json', async () => {
    const r = await exportSpans(make({ protocol: 'http/json' }), spans(2));
    expect(r.code).toBe(ExportResultCode.SUCCESS);
    expect(receiver.requests[0]!.headers['content-type']).toBe('application/json');
    const raw = JSON.parse(receiver.requests[0]!.body.toString());
    expect(raw.resourceSpans[0].scopeSpans[0].spans[0].traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(receiver.spans().map((s) => s.name)).toEqual(['span-0', 'span-1']);
  });

  it('gzips when compression is gzip, and not otherwise', async () => {
    await exportSpans(make({ compression: 'gzip' }), spans(50));
    await exportSpans(make({ compression: 'none' }), spans(50));
    const [gz, plain] = receiver.requests;
    expect(gz!.headers['content-encoding']).toBe('gzip');
    expect(gz!.raw.length).toBeLessThan(gz!.body.length / 3);
    expect(plain!.headers['content-encoding']).toBeUndefined();
    expect(plain!.raw.equals(plain!.body)).toBe(true);
    expect(receiver.spans()).toHaveLength(100);
  });

  it('reads protocol and compression from env, signal-specific first; bad values ignored with a warning', async () => {
    const messages = captureDiag();
    const e = make({
      url: undefined,
      env: {
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
        OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'HTTP/JSON',
        OTEL_EXPORTER_OTLP_COMPRESSION: 'gzip',
        OTEL_EXPORTER_OTLP_TRACES_COMPRESSION: 'zstd',
        OTEL_EXPORTER_OTLP_TIMEOUT: 'soon',
      },
    });
    expect(e.settings).toMatchObject({ protocol: 'http/json', compression: 'gzip', timeoutMillis: 10_000 });
    await exportSpans(e, spans(1));
    expect(receiver.requests[0]!.headers['content-type']).toBe('application/json');
    expect(receiver.requests[0]!.headers['content-encoding']).toBe('gzip');
    expect(messages.some((m) => m.includes('OTEL_EXPORTER_OTLP_TRACES_COMPRESSION'))).toBe(true);
    expect(messages.some((m) => m.includes('OTEL_EXPORTER_OTLP_TIMEOUT'))).toBe(true);
  });

  it('merges headers: generic env < traces env < code, env values percent-decoded', async () => {
    const e = make({
      headers: { 'X-Code': 'c', 'x-both': 'from-code' },
      env: {
        OTEL_EXPORTER_OTLP_HEADERS: 'Authorization=Basic%20AAA,x-both=generic,x-generic=g%2Cg',
        OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'x-both=traces,x-traces=t',
      },
    });
    await exportSpans(e, spans(1));
    const h = receiver.requests[0]!.headers;
    expect(h.authorization).toBe('Basic AAA');
    expect(h['x-generic']).toBe('g,g');
    expect(h['x-traces']).toBe('t');
    expect(h['x-code']).toBe('c');
    expect(h['x-both']).toBe('from-code');
    expect(h['content-type']).toBe('application/x-protobuf');
  });

  it('never sends an empty request', async () => {
    const r = await exportSpans(make(), []);
    expect(r.code).toBe(ExportResultCode.SUCCESS);
    await new Promise((res) => setTimeout(res, 50));
    expect(receiver.requests).toHaveLength(0);
  });

  it('is invisible to HTTP client instrumentation, and connects with tracing suppressed', async () => {
    const manager = new AsyncLocalStorageContextManager().enable();
    context.setGlobalContextManager(manager);
    const httpEvents: string[] = [];
    const onHttp = (_m: unknown, name: string | symbol) => httpEvents.push(String(name));
    const connects: boolean[] = [];
    const onConnect = () => connects.push(isTracingSuppressed(context.active()));
    const httpChannels = ['http.client.request.start', 'undici:request:create'];
    for (const c of httpChannels) subscribe(c, onHttp);
    subscribe('net.client.socket', onConnect);
    try {
      const exporter = make();
      await exportSpans(exporter, spans(1));
      await exportSpans(exporter, spans(2));
    } finally {
      for (const c of httpChannels) unsubscribe(c, onHttp);
      unsubscribe('net.client.socket', onConnect);
      context.disable();
    }
    // Nothing for node:http or fetch/undici instrumentations to see...
    expect(httpEvents).toEqual([]);
    // ...one connection for both exports (kept alive), opened with tracing suppressed, so a
    // net-level instrumentation does not trace it either...
    expect(connects).toEqual([true]);
    expect(receiver.requests).toHaveLength(2);
    // ...and the suppression does not leak into the caller's context.
    expect(isTracingSuppressed(context.active())).toBe(false);
  });
});

describe('OtlpHttpExporter: endpoint configuration', () => {
  const urlFor = (env: Record<string, string>) => new OtlpHttpExporter({ env }).url;

  it('appends v1/traces to the generic endpoint, keeping its path', () => {
    expect(urlFor({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318/x/' })).toBe('http://c:4318/x/v1/traces');
    expect(urlFor({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318/x' })).toBe('http://c:4318/x/v1/traces');
    expect(urlFor({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' })).toBe('http://c:4318/v1/traces');
    expect(urlFor({})).toBe('http://localhost:4318/v1/traces');
  });

  it('uses the traces endpoint as is, and prefers it over the generic one', () => {
    expect(
      urlFor({
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://generic:4318',
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://t:4318/custom/path',
      }),
    ).toBe('https://t:4318/custom/path');
    expect(urlFor({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://t:4318' })).toBe('http://t:4318/');
  });

  it('posts to the configured paths for real', async () => {
    await exportSpans(
      make({ url: undefined, env: { OTEL_EXPORTER_OTLP_ENDPOINT: `${receiver.url}/x/` } }),
      spans(1),
    );
    await exportSpans(
      make({ url: undefined, env: { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${receiver.url}/as-is` } }),
      spans(1),
    );
    expect(receiver.requests.map((r) => r.url)).toEqual(['/x/v1/traces', '/as-is']);
  });

  it('ignores a bad env endpoint with a warning; a bad url in code is a TypeError', () => {
    const messages = captureDiag();
    expect(
      urlFor({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'not a url', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://g:1' }),
    ).toBe('http://g:1/v1/traces');
    expect(messages.some((m) => m.includes('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'))).toBe(true);
    expect(() => new OtlpHttpExporter({ url: 'ftp://x' })).toThrow(/options\.url/);
    // biome-ignore lint/suspicious/noExplicitAny: testing bad input from JS callers
    expect(() => new OtlpHttpExporter({ protocol: 'grpc' as any })).toThrow(/options\.protocol/);
    // biome-ignore lint/suspicious/noExplicitAny: testing bad input from JS callers
    expect(() => new OtlpHttpExporter({ compression: 'br' as any })).toThrow(/options\.compression/);
    expect(() => new OtlpHttpExporter({ timeoutMillis: -1 })).toThrow(/options\.timeoutMillis/);
    expect(() => new OtlpHttpExporter({ caFile: '/nonexistent/ca.pem' })).toThrow(/options\.caFile/);
    // biome-ignore lint/suspicious/noExplicitAny: testing bad input from JS callers
    expect(() => new OtlpHttpExporter({ headers: { a: 1 as any } })).toThrow(/options\.headers\["a"\]/);
    expect(() => new OtlpHttpExporter({ headers: { 'x-bad': 'line\nbreak' } })).toThrow(
      /options\.headers\["x-bad"\]/,
    );
    const e = new OtlpHttpExporter({ env: { OTEL_EXPORTER_OTLP_HEADERS: 'bad%20name=v,good=ok' } });
    expect(e.settings.headers).toMatchObject({ good: 'ok' });
    expect(e.settings.headers['bad name']).toBeUndefined();
    expect(messages.some((m) => m.includes('"bad name"'))).toBe(true);
  });
});

describe('OtlpHttpExporter: retries and deadlines', () => {
  it('parses Retry-After as seconds or an HTTP date', () => {
    const now = Date.parse('Sun, 22 Nov 2026 05:00:00 GMT');
    expect(parseRetryAfter('3', now)).toBe(3000);
    expect(parseRetryAfter('Sun, 22 Nov 2026 05:00:02 GMT', now)).toBe(2000);
    expect(parseRetryAfter('Sun, 22 Nov 2026 04:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });

  it('retries 429 after Retry-After seconds', async () => {
    receiver.setBehavior((_r, i) => (i === 0 ? { status: 429, headers: { 'retry-after': '1' } } : undefined));
    const e = make();
    const r = await exportSpans(e, spans(2));
    expect(r.code).toBe(ExportResultCode.SUCCESS);
    expect(receiver.requests).toHaveLength(2);
    expect(receiver.requests[1]!.at - receiver.requests[0]!.at).toBeGreaterThanOrEqual(950);
    expect(receiver.spans()).toHaveLength(2);
    expect(e.stats()).toMatchObject({ requests: 2, retries: 1, exportedSpans: 2, failedSpans: 0 });
  });

  it('retries 429 after a Retry-After HTTP date', async () => {
    receiver.setBehavior((_r, i) =>
      i === 0
        ? { status: 429, headers: { 'retry-after': new Date(Date.now() + 2000).toUTCString() } }
        : undefined,
    );
    const r = await exportSpans(make(), spans(1));
    expect(r.code).toBe(ExportResultCode.SUCCESS);
    expect(receiver.requests).toHaveLength(2);
    // HTTP dates have 1 s resolution: the wait is between 1 and 2 s.
    expect(receiver.requests[1]!.at - receiver.requests[0]!.at).toBeGreaterThanOrEqual(950);
  });

  it('fails at once when Retry-After points past the deadline', async () => {
    receiver.setBehavior(() => ({ status: 503, headers: { 'retry-after': '30' } }));
    const started = Date.now();
    const r = await exportSpans(make({ timeoutMillis: 2000 }), spans(1));
    expect(r.code).toBe(ExportResultCode.FAILED);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(receiver.requests).toHaveLength(1);
    expect(r.error?.message).toMatch(/HTTP 503.*deadline/);
  });

  it.each([502, 503, 504])('retries HTTP %i', async (status) => {
    receiver.setBehavior((_r, i) => (i < 2 ? { status } : undefined));
    const r = await exportSpans(make(), spans(1));
    expect(r.code).toBe(ExportResultCode.SUCCESS);
    expect(receiver.requests).toHaveLength(3);
    expect(receiver.spans()).toHaveLength(1);
  });

  it.each([400, 401, 403, 404, 413, 500, 501])('does not retry HTTP %i', async (status) => {
    receiver.setBehavior(() => ({
      status,
      body: '{"message":"nope"}',
      headers: { 'content-type': 'application/json' },
    }));
    const e = make();
    const r = await exportSpans(e, spans(4));
    expect(r.code).toBe(ExportResultCode.FAILED);
    expect(r.error?.message).toContain(`HTTP ${status}`);
    expect(r.spans).toEqual({ exported: 0, failed: 4 });
    await new Promise((res) => setTimeout(res, 300));
    expect(receiver.requests).toHaveLength(1);
    expect(e.stats()).toMatchObject({ requests: 1, retries: 0, failedSpans: 4 });
  });

  it('retries a connection reset mid-body', async () => {
    receiver.resetMidBody(1);
    const big = spans(3000, { pad: 'p'.repeat(200) }); // ~1.5 MB: several TCP chunks
    const e = make();
    const r = await exportSpans(e, big);
    expect(r.code).toBe(ExportResultCode.SUCCESS);
    expect(receiver.midBodyResets()).toBe(1);
    expect(receiver.requests).toHaveLength(1);
    expect(receiver.spans()).toHaveLength(3000);
    expect(e.stats().retries).toBe(1);
  });

  it('retries a reset without a response', async () => {
    receiver.setBehavior((_r, i) => (i === 0 ? { reset: true } : undefined));
    const r = await exportSpans(make(), spans(1));
    expect(r.code).toBe(ExportResultCode.SUCCESS);
    expect(receiver.requests).toHaveLength(2);
  });

  it('retries a refused connection until the deadline, then fails', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const e = make({ url: `http://127.0.0.1:${port}/v1/traces`, timeoutMillis: 1500 });
    const started = Date.now();
    const r = await exportSpans(e, spans(1));
    const elapsed = Date.now() - started;
    expect(r.code).toBe(ExportResultCode.FAILED);
    expect(r.error?.message).toMatch(/ECONNREFUSED/);
    expect(e.stats().requests).toBeGreaterThanOrEqual(2);
    // The deadline plus slack for a late timer on a loaded machine; without the deadline rule the
    // exporter would keep retrying far longer.
    expect(elapsed).toBeLessThan(2500);
  });

  it('fails a hanging collector at timeoutMillis', async () => {
    receiver.setBehavior(() => ({ hang: true }));
    const started = Date.now();
    const r = await exportSpans(make({ timeoutMillis: 800 }), spans(1));
    const elapsed = Date.now() - started;
    expect(r.code).toBe(ExportResultCode.FAILED);
    expect(r.error?.message).toMatch(/within 800 ms/);
    expect(elapsed).toBeGreaterThanOrEqual(750);
    expect(elapsed).toBeLessThan(1500);
  });

  it('a slow 503 storm never runs past the deadline', async () => {
    receiver.setBehavior(() => ({ status: 503, delayMs: 150 }));
    const started = Date.now();
    const r = await exportSpans(make({ timeoutMillis: 1200 }), spans(1));
    expect(r.code).toBe(ExportResultCode.FAILED);
    expect(Date.now() - started).toBeLessThan(1800);
    expect(receiver.requests.length).toBeGreaterThanOrEqual(2);
  });
});

describe('OtlpHttpExporter: responses and limits', () => {
  async function partialSuccessBody(rejected: number, message: string): Promise<Buffer> {
    const { createRequire } = await import('node:module');
    const root = createRequire(import.meta.url)('otlp-transformer-052/build/src/generated/root.js');
    const Resp = root.opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse;
    return Buffer.from(
      Resp.encode(
        Resp.create({ partialSuccess: { rejectedSpans: rejected, errorMessage: message } }),
      ).finish(),
    );
  }

  it('reports a protobuf partial success through diag, without retrying', async () => {
    const messages = captureDiag();
    const body = await partialSuccessBody(2, 'spans too old');
    receiver.setBehavior(() => ({ status: 200, body }));
    const e = make();
    const r = await exportSpans(e, spans(5));
    expect(r.spans).toEqual({ exported: 3, failed: 2 });
    expect(receiver.requests).toHaveLength(1);
    expect(messages.some((m) => m.includes('rejected 2 of 5 spans: spans too old'))).toBe(true);
    expect(e.stats()).toMatchObject({ rejectedSpans: 2, exportedSpans: 3 });
  });

  it('reports a JSON partial success through diag', async () => {
    const messages = captureDiag();
    receiver.setBehavior(() => ({
      status: 200,
      body: JSON.stringify({ partialSuccess: { rejectedSpans: '1', errorMessage: 'bad attr' } }),
    }));
    const r = await exportSpans(make({ protocol: 'http/json' }), spans(2));
    expect(r.spans).toEqual({ exported: 1, failed: 1 });
    expect(messages.some((m) => m.includes('rejected 1 of 2 spans: bad attr'))).toBe(true);
  });

  it('a partial success with only a warning message keeps every span exported', async () => {
    const messages = captureDiag();
    receiver.setBehavior(() => ({
      status: 200,
      body: JSON.stringify({ partialSuccess: { errorMessage: 'deprecated field' } }),
    }));
    const r = await exportSpans(make({ protocol: 'http/json' }), spans(2));
    expect(r).toMatchObject({ code: ExportResultCode.SUCCESS, spans: { exported: 2, failed: 0 } });
    expect(messages.some((m) => m.includes('deprecated field'))).toBe(true);
  });

  it('reads at most 4 MiB of a response', async () => {
    const messages = captureDiag();
    receiver.setBehavior(() => ({ status: 200, body: Buffer.alloc(6 * 1024 * 1024, 0x0a) }));
    const r = await exportSpans(make(), spans(1));
    expect(receiver.requests).toHaveLength(1);
    expect(r.code).toBe(ExportResultCode.SUCCESS);
    expect(messages.some((m) => m.includes('was not parsed'))).toBe(true);
  });

  it('splits a batch over the request cap, and drops (and counts) a single span over it', async () => {
    const e = make({ maxRequestBytes: 16 * 1024 });
    const batch = spans(100);
    batch.splice(50, 0, testSpan({ name: 'huge', attributes: { blob: 'x'.repeat(20 * 1024) } }));
    const r = await exportSpans(e, batch);
    expect(r.spans).toEqual({ exported: 100, failed: 1 });
    expect(receiver.requests.length).toBeGreaterThan(2);
    for (const req of receiver.requests) expect(req.body.length).toBeLessThanOrEqual(16 * 1024);
    const names = receiver.spans().map((s) => s.name);
    expect(names).toEqual(batch.filter((s) => s.name !== 'huge').map((s) => s.name));
    expect(e.stats()).toMatchObject({ oversizedSpans: 1, exportedSpans: 100, failedSpans: 1 });
  });

  it('shutdown waits for exports in flight, then refuses new ones', async () => {
    receiver.setBehavior(() => ({ delayMs: 300 }));
    const e = make();
    let first: ExportResult | undefined;
    e.export(spans(1), (r) => {
      first = r;
    });
    await new Promise((res) => setTimeout(res, 50));
    await e.shutdown();
    expect(first?.code).toBe(ExportResultCode.SUCCESS);
    const after = await exportSpans(e, spans(1));
    expect(after.code).toBe(ExportResultCode.FAILED);
    expect(receiver.requests).toHaveLength(1);
    await e.shutdown(); // idempotent
  });
});

describe('OtlpHttpExporter: TLS', () => {
  let dir: string;
  const file = (name: string) => join(dir, name);
  const pem = (name: string) => readFileSync(file(name));

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tracewire-tls-'));
    const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
    // A private CA, a server certificate for 127.0.0.1 and a client certificate, both signed by it.
    ssl(
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      'ca.key',
      '-out',
      'ca.pem',
      '-days',
      '2',
      '-subj',
      '/CN=tracewire test CA',
    );
    writeFileSync(file('server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
    ssl(
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      'server.key',
      '-out',
      'server.csr',
      '-subj',
      '/CN=127.0.0.1',
    );
    ssl(
      'x509',
      '-req',
      '-in',
      'server.csr',
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      'server.pem',
      '-days',
      '2',
      '-extfile',
      'server.ext',
    );
    ssl(
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      'client.key',
      '-out',
      'client.csr',
      '-subj',
      '/CN=client',
    );
    ssl(
      'x509',
      '-req',
      '-in',
      'client.csr',
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      'client.pem',
      '-days',
      '2',
    );
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('exports over HTTPS to a server signed by a trusted CA (option, file, env)', async () => {
    const tlsReceiver = await startOtlpReceiver({ tls: { key: pem('server.key'), cert: pem('server.pem') } });
    try {
      const byContent = make({ url: tlsReceiver.tracesUrl, ca: pem('ca.pem') });
      const byFile = make({ url: tlsReceiver.tracesUrl, caFile: file('ca.pem') });
      const byEnv = make({
        url: undefined,
        env: {
          OTEL_EXPORTER_OTLP_ENDPOINT: tlsReceiver.url,
          OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE: file('ca.pem'),
        },
      });
      for (const e of [byContent, byFile, byEnv]) {
        expect((await exportSpans(e, spans(1))).code).toBe(ExportResultCode.SUCCESS);
      }
      expect(tlsReceiver.spans()).toHaveLength(3);
    } finally {
      await tlsReceiver.close();
    }
  });

  it('refuses an untrusted certificate without retrying', async () => {
    const tlsReceiver = await startOtlpReceiver({ tls: { key: pem('server.key'), cert: pem('server.pem') } });
    try {
      const e = make({ url: tlsReceiver.tracesUrl, timeoutMillis: 5000 });
      const started = Date.now();
      const r = await exportSpans(e, spans(1));
      expect(r.code).toBe(ExportResultCode.FAILED);
      expect(r.error?.message).toMatch(/certificate/i);
      expect(e.stats().requests).toBe(1);
      expect(Date.now() - started).toBeLessThan(2000);
      expect(tlsReceiver.requests).toHaveLength(0);
    } finally {
      await tlsReceiver.close();
    }
  });

  it('presents a client certificate for mTLS (options and env)', async () => {
    const tlsReceiver = await startOtlpReceiver({
      tls: { key: pem('server.key'), cert: pem('server.pem'), ca: pem('ca.pem'), requestCert: true },
    });
    try {
      const without = make({ url: tlsReceiver.tracesUrl, ca: pem('ca.pem'), timeoutMillis: 1500 });
      expect((await exportSpans(without, spans(1))).code).toBe(ExportResultCode.FAILED);
      const withCert = make({
        url: tlsReceiver.tracesUrl,
        caFile: file('ca.pem'),
        certFile: file('client.pem'),
        keyFile: file('client.key'),
      });
      expect((await exportSpans(withCert, spans(1))).code).toBe(ExportResultCode.SUCCESS);
      const withEnv = make({
        url: undefined,
        env: {
          OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: tlsReceiver.tracesUrl,
          OTEL_EXPORTER_OTLP_CERTIFICATE: file('ca.pem'),
          OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE: file('client.pem'),
          OTEL_EXPORTER_OTLP_CLIENT_KEY: file('client.key'),
        },
      });
      expect((await exportSpans(withEnv, spans(1))).code).toBe(ExportResultCode.SUCCESS);
      expect(tlsReceiver.spans()).toHaveLength(2);
    } finally {
      await tlsReceiver.close();
    }
  });
});

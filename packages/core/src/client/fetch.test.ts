import { context, propagation, SpanStatusCode, trace } from '@opentelemetry/api';
import { Agent, request as undiciRequest, fetch as undiciFetch } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { enableOutgoingTracing } from './index.js';
import {
  closedPort,
  installOfficialSdk,
  type OfficialSdk,
  parseTraceparent,
  startTestServer,
  type TestServer,
  until,
} from './test-support.js';

let sdk: OfficialSdk;
let server: TestServer;
let disable: () => void;
/** Server-side time at which the streamed body's last chunk was written. */
let lastChunkAt = 0;

beforeAll(async () => {
  sdk = installOfficialSdk();
  disable = enableOutgoingTracing();
  server = await startTestServer((req, res) => {
    const url = req.url ?? '/';
    if (url.startsWith('/status/')) {
      res.statusCode = Number(url.slice('/status/'.length));
      res.end('status');
    } else if (url === '/redirect') {
      res.statusCode = 302;
      res.setHeader('location', '/final');
      res.end();
    } else if (url === '/slow') {
      setTimeout(() => res.end('late'), 2000);
    } else if (url === '/stream') {
      res.write('first;');
      setTimeout(() => {
        lastChunkAt = Date.now();
        res.end('last');
      }, 300);
    } else {
      res.end('ok');
    }
  });
});

afterAll(async () => {
  disable();
  await server.close();
});

afterEach(() => {
  sdk.exporter.reset();
  server.seen.length = 0;
});

const hrMs = (t: [number, number]) => t[0] * 1000 + t[1] / 1e6;

describe('global fetch', () => {
  it('creates a CLIENT span per call, child of the active span, and sends its id as parent id', async () => {
    const { parent } = await sdk.inParent(async () => {
      await (await fetch(`${server.url}/a?sig=secret&x=1`)).text();
      await (await fetch(`${server.url}/b`)).text();
    });
    const clients = sdk.clientSpans();
    expect(clients).toHaveLength(2);
    const [a, b] = clients as [(typeof clients)[0], (typeof clients)[0]];
    for (const s of clients) {
      expect(s.name).toBe('GET');
      expect(s.parentSpanContext?.spanId).toBe(parent.spanContext().spanId);
      expect(s.spanContext().traceId).toBe(parent.spanContext().traceId);
      expect(s.status.code).toBe(SpanStatusCode.UNSET);
    }
    expect(a.attributes).toEqual({
      'http.request.method': 'GET',
      'server.address': '127.0.0.1',
      'server.port': server.port,
      'url.full': `${server.url}/a?sig=REDACTED&x=1`,
      'http.response.status_code': 200,
      'network.protocol.version': '1.1',
    });
    // The server saw our client spans as parents, one new parent id per call (W3C 3.2.2.3).
    const tp = server.seen.map((r) => parseTraceparent(r.headers.traceparent));
    expect(tp[0]?.traceId).toBe(parent.spanContext().traceId);
    expect(tp[0]?.parentId).toBe(a.spanContext().spanId);
    expect(tp[1]?.parentId).toBe(b.spanContext().spanId);
    expect(tp[0]?.parentId).not.toBe(tp[1]?.parentId);
    expect(tp[0]?.flags).toBe('01');
  });

  it('marks 4xx and 5xx as ERROR with error.type = status code, and the caller still gets the response', async () => {
    await sdk.inParent(async () => {
      const r404 = await fetch(`${server.url}/status/404`);
      expect(r404.status).toBe(404);
      await r404.text();
      const r503 = await fetch(`${server.url}/status/503`);
      expect(await r503.text()).toBe('status');
    });
    const [s404, s503] = sdk.clientSpans();
    expect(s404?.status.code).toBe(SpanStatusCode.ERROR);
    expect(s404?.attributes['error.type']).toBe('404');
    expect(s503?.attributes['error.type']).toBe('503');
    expect(s503?.attributes['http.response.status_code']).toBe(503);
  });

  it('maps unknown methods to _OTHER (name "HTTP") and keeps the original', async () => {
    await sdk.inParent(async () => {
      await (await fetch(server.url, { method: 'PURGE' })).text();
    });
    const [s] = sdk.clientSpans();
    expect(s?.name).toBe('HTTP');
    expect(s?.attributes['http.request.method']).toBe('_OTHER');
    expect(s?.attributes['http.request.method_original']).toBe('PURGE');
    expect(server.seen[0]?.method).toBe('PURGE');
  });

  it('records connection refused as ERROR with error.type, and the caller sees the same failure', async () => {
    const port = await closedPort();
    const { result } = await sdk.inParent(() =>
      fetch(`http://127.0.0.1:${port}/`).then(
        () => 'resolved',
        (e: Error) => `${e.name}: ${e.message}`,
      ),
    );
    expect(result).toBe('TypeError: fetch failed');
    const [s] = sdk.clientSpans();
    expect(s?.status.code).toBe(SpanStatusCode.ERROR);
    expect(s?.attributes['error.type']).toBe('ECONNREFUSED');
    expect(s?.attributes['http.response.status_code']).toBeUndefined();
    expect(s?.events.some((e) => e.name === 'exception')).toBe(true);
  });

  it('ends the span with ERROR when the call is aborted, and the caller gets its AbortError', async () => {
    const ac = new AbortController();
    const { result } = await sdk.inParent(async () => {
      const p = fetch(`${server.url}/slow`, { signal: ac.signal });
      await until(() => server.seen.length === 1, 5000, 'request to reach the server');
      ac.abort();
      return p.then(
        () => 'resolved',
        (e: Error) => e.name,
      );
    });
    expect(result).toBe('AbortError');
    await until(() => sdk.clientSpans().length === 1, 5000, 'client span');
    const [s] = sdk.clientSpans();
    expect(s?.status.code).toBe(SpanStatusCode.ERROR);
    expect(s?.attributes['error.type']).toBe('AbortError');
  });

  it('ends the span only when a streamed body has been received to the end', async () => {
    let bodyDoneAt = 0;
    await sdk.inParent(async () => {
      const res = await fetch(`${server.url}/stream`);
      expect(sdk.clientSpans()).toHaveLength(0); // headers arrived, body still streaming: span open
      expect(await res.text()).toBe('first;last');
      bodyDoneAt = Date.now();
    });
    const [s] = sdk.clientSpans();
    expect(s).toBeDefined();
    const end = hrMs(s?.endTime as [number, number]);
    const start = hrMs(s?.startTime as [number, number]);
    expect(end).toBeGreaterThanOrEqual(lastChunkAt - 5);
    expect(end).toBeLessThanOrEqual(bodyDoneAt + 5);
    expect(end - start).toBeGreaterThanOrEqual(250);
  });

  it('creates one span per redirect hop, each with its own parent id', async () => {
    const { parent } = await sdk.inParent(async () => {
      const res = await fetch(`${server.url}/redirect`);
      expect(res.status).toBe(200);
      await res.text();
    });
    const clients = sdk.clientSpans();
    expect(clients.map((s) => s.attributes['url.full'])).toEqual([
      `${server.url}/redirect`,
      `${server.url}/final`,
    ]);
    expect(clients.map((s) => s.attributes['http.response.status_code'])).toEqual([302, 200]);
    // A 3xx is not an error on a client span (semconv: only 4xx/5xx).
    expect(clients[0]?.status.code).toBe(SpanStatusCode.UNSET);
    for (const s of clients) expect(s.parentSpanContext?.spanId).toBe(parent.spanContext().spanId);
    const parents = server.seen.map((r) => parseTraceparent(r.headers.traceparent)?.parentId);
    expect(parents).toEqual(clients.map((s) => s.spanContext().spanId));
  });

  it('sends baggage and tracestate from the active context', async () => {
    const bag = propagation.createBaggage({ tenant: { value: 'acme corp' } });
    await sdk.inParent(() =>
      context.with(propagation.setBaggage(context.active(), bag), async () => {
        await (await fetch(server.url)).text();
      }),
    );
    expect(server.seen[0]?.headers.baggage).toBe('tenant=acme%20corp');
  });

  it('replaces a traceparent the caller set instead of sending two', async () => {
    await sdk.inParent(async () => {
      await (
        await fetch(server.url, {
          headers: { traceparent: '00-11111111111111111111111111111111-2222222222222222-01' },
        })
      ).text();
    });
    const raw = server.seen[0]?.rawHeaders ?? [];
    const values = raw.filter((_, i) => i % 2 === 0 && raw[i]?.toLowerCase() === 'traceparent');
    expect(values).toHaveLength(1);
    expect(parseTraceparent(server.seen[0]?.headers.traceparent)?.parentId).toBe(
      sdk.clientSpans()[0]?.spanContext().spanId,
    );
  });

  it('does not trace or inject when there is no parent span (requireParent default)', async () => {
    await (await fetch(server.url)).text();
    expect(sdk.clientSpans()).toHaveLength(0);
    expect(server.seen[0]?.headers.traceparent).toBeUndefined();
  });
});

describe('undici package', () => {
  it('undici.request: span ends when the body stream is consumed; context is injected', async () => {
    const { parent } = await sdk.inParent(async () => {
      const res = await undiciRequest(`${server.url}/stream`);
      expect(res.statusCode).toBe(200);
      expect(await res.body.text()).toBe('first;last');
    });
    const [s] = sdk.clientSpans();
    expect(s?.parentSpanContext?.spanId).toBe(parent.spanContext().spanId);
    expect(s?.attributes['http.response.status_code']).toBe(200);
    expect(hrMs(s?.endTime as [number, number])).toBeGreaterThanOrEqual(lastChunkAt - 5);
    expect(parseTraceparent(server.seen[0]?.headers.traceparent)?.parentId).toBe(s?.spanContext().spanId);
  });

  it('undici fetch with its own Agent shares the channels', async () => {
    const agent = new Agent();
    try {
      await sdk.inParent(async () => {
        await (await undiciFetch(`${server.url}/u`, { dispatcher: agent })).text();
      });
      const [s] = sdk.clientSpans();
      expect(s?.attributes['url.full']).toBe(`${server.url}/u`);
      expect(parseTraceparent(server.seen[0]?.headers.traceparent)?.parentId).toBe(s?.spanContext().spanId);
    } finally {
      await agent.close();
    }
  });

  it('undici.request connection refused: ERROR, error.type ECONNREFUSED, caller gets the error', async () => {
    const port = await closedPort();
    const { result } = await sdk.inParent(() =>
      undiciRequest(`http://127.0.0.1:${port}/`).then(
        () => 'resolved',
        (e: NodeJS.ErrnoException) => e.code,
      ),
    );
    expect(result).toBe('ECONNREFUSED');
    const [s] = sdk.clientSpans();
    expect(s?.attributes['error.type']).toBe('ECONNREFUSED');
    expect(s?.status.code).toBe(SpanStatusCode.ERROR);
  });
});

describe('trace API without tracewire SDK', () => {
  it('the active span is what the client span hangs under, even across awaits', async () => {
    const tracer = trace.getTracer('t');
    await tracer.startActiveSpan('outer', async (outer) => {
      await new Promise((r) => setTimeout(r, 5));
      await (await fetch(server.url)).text();
      outer.end();
    });
    const [c] = sdk.clientSpans();
    const outer = sdk.spans().find((s) => s.name === 'outer');
    expect(c?.parentSpanContext?.spanId).toBe(outer?.spanContext().spanId);
  });
});

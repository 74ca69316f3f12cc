/**
 * The same lifecycle on tracewire's OWN SDK (provider, span, AsyncLocalStorage context manager, W3C
 * propagator, simple processor): the cases where the two SDKs could differ (reading a user-set
 * `http.route` back from the span, exception events, non-recording spans, context) are run here too.
 */
import { connect } from 'node:net';
import {
  type Attributes,
  context,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SimpleSpanProcessor } from '../export/simple-processor.js';
import { W3CTraceContextPropagator } from '../propagation/trace-context.js';
import { AsyncLocalStorageContextManager } from '../sdk/context-manager.js';
import {
  ParentBasedSampler,
  type Sampler,
  SamplingDecision,
  TraceIdRatioBasedSampler,
} from '../sdk/samplers.js';
import { TracewireTracerProvider } from '../sdk/tracer-provider.js';
import { ExportResultCode, type ReadableSpan, type SpanExporter } from '../sdk/types.js';
import { type Handler, serve, type TestServer } from './test-setup.js';

const finished: ReadableSpan[] = [];
const memory: SpanExporter = {
  export(spans, done) {
    finished.push(...spans);
    done({ code: ExportResultCode.SUCCESS });
  },
  shutdown: async () => {},
};
const provider = new TracewireTracerProvider({
  spanProcessors: [new SimpleSpanProcessor(memory)],
  resource: { 'service.name': 'http-lifecycle-test' },
});

let s: TestServer;
const TRACE_ID = '0af7651916cd43dd8448eb211c80319c';

async function spans(n: number): Promise<ReadableSpan[]> {
  const until = Date.now() + 3000;
  while (finished.length < n && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
  await new Promise((r) => setTimeout(r, 20));
  return finished;
}

/**
 * A server on a tracewire provider of its own (its spans also go to `finished`), given to `fn`,
 * then closed and shut down.
 */
async function onOwnProvider(
  options: Omit<NonNullable<ConstructorParameters<typeof TracewireTracerProvider>[0]>, 'spanProcessors'>,
  handler: Handler,
  fn: (server: TestServer) => Promise<void>,
): Promise<void> {
  const own = new TracewireTracerProvider({ ...options, spanProcessors: [new SimpleSpanProcessor(memory)] });
  const server = await serve({ tracerProvider: own }, handler);
  try {
    await fn(server);
  } finally {
    await server.close();
    await own.shutdown();
  }
}

beforeAll(async () => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
  s = await serve({ ignore: '/healthz' }, (req, res, t) => {
    const url = req.url ?? '/';
    if (url === '/healthz') {
      const carrier: Record<string, string> = {};
      propagation.inject(context.active(), carrier);
      res.end(carrier.traceparent ?? '');
    } else if (url.startsWith('/users/')) {
      t.setRoute('/users/:id');
      trace.getTracer('app').startActiveSpan('db', (child) => child.end());
      res.end('user');
    } else if (url === '/custom-route') {
      trace.getActiveSpan()?.setAttribute('http.route', '/custom/{x}');
      t.setRoute('/should-not-win');
      res.end();
    } else if (url === '/fail') {
      t.recordError(new RangeError('out of range'));
      res.statusCode = 500;
      res.end();
    } else if (url === '/slow') {
      setTimeout(() => res.end(), 1000);
    } else {
      res.statusCode = 404;
      res.end();
    }
  });
});

afterEach(() => {
  finished.length = 0;
});

afterAll(async () => {
  await s?.close();
  await provider.shutdown();
});

describe('HTTP lifecycle on the tracewire SDK', () => {
  it('names, parents and describes the server span, with the child span nested under it', async () => {
    await fetch(`${s.url}/users/42`, { headers: { traceparent: `00-${TRACE_ID}-b7ad6b7169203331-01` } });
    const all = await spans(2);
    const server = all.find((x) => x.kind === SpanKind.SERVER);
    const child = all.find((x) => x.name === 'db');
    expect(server?.name).toBe('GET /users/:id');
    expect(server?.spanContext().traceId).toBe(TRACE_ID);
    expect(server?.attributes).toMatchObject({
      'http.request.method': 'GET',
      'http.route': '/users/:id',
      'url.path': '/users/42',
      'http.response.status_code': 200,
      'server.port': s.port,
    });
    expect(server?.status.code).toBe(SpanStatusCode.UNSET);
    expect(child?.parentSpanContext?.spanId).toBe(server?.spanContext().spanId);
  });

  it('keeps an http.route set by user code on the tracewire span', async () => {
    await fetch(`${s.url}/custom-route`);
    const [span] = await spans(1);
    expect(span?.attributes['http.route']).toBe('/custom/{x}');
    expect(span?.name).toBe('GET /custom/{x}');
  });

  it('marks an exception answered with 500 as ERROR with the exception type and event', async () => {
    await fetch(`${s.url}/fail`);
    const [span] = await spans(1);
    expect(span?.status.code).toBe(SpanStatusCode.ERROR);
    expect(span?.attributes['error.type']).toBe('RangeError');
    expect(span?.events.map((e) => e.name)).toEqual(['exception']);
    expect(span?.events[0]?.attributes?.['exception.type']).toBe('RangeError');
  });

  it('leaves a 404 unset and marks an abort as ERROR "aborted"', async () => {
    await fetch(`${s.url}/nope`);
    const [notFound] = await spans(1);
    expect(notFound?.status.code).toBe(SpanStatusCode.UNSET);
    expect(notFound?.attributes).not.toHaveProperty('error.type');
    finished.length = 0;

    const socket = connect(s.port, '127.0.0.1');
    socket.on('error', () => {});
    socket.write('GET /slow HTTP/1.1\r\nHost: h\r\n\r\n');
    await new Promise((r) => setTimeout(r, 100));
    socket.destroy();
    const [aborted] = await spans(1);
    expect(aborted?.status.code).toBe(SpanStatusCode.ERROR);
    expect(aborted?.attributes['error.type']).toBe('aborted');
    expect(aborted?.attributes).not.toHaveProperty('http.response.status_code');
  });

  it('continues the caller trace from an ignored request without recording a span', async () => {
    const body = await fetch(`${s.url}/healthz`, {
      headers: { traceparent: `00-${TRACE_ID}-b7ad6b7169203331-01` },
    }).then((r) => r.text());
    expect(body.split('-')[1]).toBe(TRACE_ID);
    await new Promise((r) => setTimeout(r, 50));
    expect(finished).toHaveLength(0);
  });

  it('still shows a custom sampler the request attributes, and records them when it samples', async () => {
    // Built-in samplers never read attributes, so tracewire builds them only for sampled requests;
    // a custom sampler may read them, so it must get them before deciding.
    const seen: Attributes[] = [];
    const bySampler: Sampler = {
      shouldSample: (_c, _t, _n, _k, attributes) => {
        seen.push({ ...attributes });
        return {
          decision:
            attributes['url.path'] === '/users/7'
              ? SamplingDecision.RECORD_AND_SAMPLED
              : SamplingDecision.NOT_RECORD,
        };
      },
      toString: () => 'ByPath',
    };
    await onOwnProvider(
      { sampler: new ParentBasedSampler({ root: bySampler }) },
      (_req, res, t) => {
        t.setRoute('/users/:id');
        res.end();
      },
      async (s2) => {
        await fetch(`${s2.url}/users/7`);
        await fetch(`${s2.url}/users/8`);
        const [span] = await spans(1);
        expect(seen.map((a) => a['url.path'])).toEqual(['/users/7', '/users/8']);
        expect(seen[1]).toMatchObject({ 'http.request.method': 'GET', 'server.port': s2.port });
        expect(finished).toHaveLength(1);
        expect(span?.attributes).toMatchObject({ 'url.path': '/users/7', 'http.response.status_code': 200 });
      },
    );
  });

  it('applies span limits to the request attributes: long values cut, attributes past the count dropped', async () => {
    const plain: Handler = (_req, res) => res.end();
    await onOwnProvider({ spanLimits: { attributeValueLengthLimit: 4 } }, plain, async (cut) => {
      await fetch(`${cut.url}/users/12345`, { headers: { 'user-agent': 'a-long-agent/1.0' } });
      const [long] = await spans(1);
      expect(long?.attributes).toMatchObject({
        'url.path': '/use',
        'user_agent.original': 'a-lo',
        'url.scheme': 'http',
        'http.response.status_code': 200,
      });
    });
    finished.length = 0;
    // The same request unlimited, on the shared server (no route set there either: a 404).
    await fetch(`${s.url}/nope`);
    const [full] = await spans(1);
    const all = Object.keys(full?.attributes ?? {}).length;
    expect(all).toBeGreaterThan(10);
    finished.length = 0;
    await onOwnProvider({ spanLimits: { attributeCountLimit: 3 } }, plain, async (few) => {
      await fetch(`${few.url}/nope`);
      const [capped] = await spans(1);
      expect(Object.keys(capped?.attributes ?? {})).toEqual([
        'http.request.method',
        'url.scheme',
        'server.address',
      ]);
      expect(capped?.droppedAttributesCount).toBe(all - 3);
    });
  });

  it('counts attributes added by user code against the limit after the request attributes', async () => {
    // 16 is the most attributes the lifecycle may hand over unchecked: the span must still count them.
    const addTwenty: Handler = (_req, res) => {
      const span = trace.getActiveSpan();
      for (let i = 0; i < 20; i++) span?.setAttribute(`app.extra.${i}`, i);
      res.end();
    };
    await onOwnProvider({ spanLimits: { attributeCountLimit: 16 } }, addTwenty, async (s2) => {
      await fetch(`${s2.url}/a`);
      const [span] = await spans(1);
      const keys = Object.keys(span?.attributes ?? {});
      expect(keys).toHaveLength(16);
      expect(keys).toContain('url.path');
      expect(keys).toContain('app.extra.0');
      const requestAttributes = keys.filter((k) => !k.startsWith('app.')).length;
      // every write past the 16th is dropped and counted: 20 extra, plus the status code at the end
      expect(span?.droppedAttributesCount).toBe(requestAttributes + 20 + 1 - 16);
    });
  });

  it('drops a request attribute that a custom sampler replaced with a value of the wrong type', async () => {
    const rewriting: Sampler = {
      shouldSample: (_c, _t, _n, _k, attributes) => {
        (attributes as Record<string, unknown>)['url.path'] = { not: 'a valid value' };
        return { decision: SamplingDecision.RECORD_AND_SAMPLED };
      },
      toString: () => 'Rewriting',
    };
    await onOwnProvider(
      { sampler: rewriting },
      (_req, res) => res.end(),
      async (s2) => {
        await fetch(`${s2.url}/users/3`);
        const [span] = await spans(1);
        expect(span?.attributes).not.toHaveProperty('url.path');
        expect(span?.attributes).toMatchObject({
          'http.request.method': 'GET',
          'http.response.status_code': 200,
        });
      },
    );
  });

  it('gives an unsampled request a context that propagates its trace (sampled flag off), and records nothing', async () => {
    const injectParent: Handler = (_req, res) => {
      const carrier: Record<string, string> = {};
      propagation.inject(context.active(), carrier);
      res.end(carrier.traceparent ?? '');
    };
    const unsampled = { sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(0) }) };
    await onOwnProvider(unsampled, injectParent, async (s2) => {
      const fresh = await fetch(`${s2.url}/a`).then((r) => r.text());
      expect(fresh).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-02$/); // new trace: random flag, not sampled
      const continued = await fetch(`${s2.url}/b`, {
        headers: { traceparent: `00-${TRACE_ID}-b7ad6b7169203331-00` },
      }).then((r) => r.text());
      expect(continued.split('-')[1]).toBe(TRACE_ID);
      expect(continued.endsWith('-00')).toBe(true);
      await new Promise((r) => setTimeout(r, 50));
      expect(finished).toHaveLength(0);
    });
  });

  it('runs an ignored request without a parent in the API root context itself', async () => {
    let active: unknown;
    const s2 = await serve({ ignore: '/skip' }, (_req, res) => {
      active = context.active();
      res.end();
    });
    try {
      await fetch(`${s2.url}/skip`);
      expect(active).toBe(ROOT_CONTEXT);
    } finally {
      await s2.close();
    }
  });
});

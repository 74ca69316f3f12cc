import {
  context,
  createContextKey,
  DiagLogLevel,
  diag,
  propagation,
  SpanStatusCode,
  type TextMapPropagator,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { get, type IncomingMessage } from 'node:http';
import { Agent, fetch as undiciFetch } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { resetReports } from '../sdk/report.js';
import { enableOutgoingTracing } from './index.js';
import { isInternalHost } from './target.js';
import {
  DiagCollector,
  installOfficialSdk,
  lookupToLoopback,
  nodeCanInjectHttp,
  type OfficialSdk,
  parseTraceparent,
  startTestServer,
  type TestServer,
} from './test-support.js';

let sdk: OfficialSdk;
let server: TestServer;
/** An undici Agent resolving every name to 127.0.0.1, to call "public" and "internal" names offline. */
let anyHost: Agent;
const diagLog = new DiagCollector();
let disable: (() => void) | undefined;

beforeAll(async () => {
  sdk = installOfficialSdk();
  diag.setLogger(diagLog, DiagLogLevel.ALL);
  server = await startTestServer();
  anyHost = new Agent({ connect: { lookup: lookupToLoopback } });
});

afterAll(async () => {
  disable?.();
  diag.disable();
  await anyHost.close();
  await server.close();
});

afterEach(() => {
  disable?.();
  disable = undefined;
  sdk.exporter.reset();
  server.seen.length = 0;
  diagLog.messages.length = 0;
  resetReports();
});

/** GET `http://<host>:<port><path>` through undici with every name resolving to the test server. */
async function call(host: string, path = '/'): Promise<void> {
  const res = await undiciFetch(`http://${host}:${server.port}${path}`, { dispatcher: anyHost });
  await res.text();
}

function httpGet(host: string, path = '/'): Promise<void> {
  return new Promise((resolve, reject) => {
    get({ host, port: server.port, path, lookup: lookupToLoopback }, (res: IncomingMessage) => {
      res.resume();
      res.on('end', () => resolve());
    }).on('error', reject);
  });
}

const tp = (i = 0) => server.seen[i]?.headers.traceparent;

describe('propagateTo', () => {
  it('default: internal hosts get trace context, public hosts do not (but still get a span)', async () => {
    disable = enableOutgoingTracing();
    await sdk.inParent(async () => {
      await call('users'); // single-label: a Compose/Kubernetes service name
      await call('api.example.com'); // public
      await call('orders.default.svc.cluster.local');
      await call('127.0.0.1');
    });
    expect(server.seen.map((r) => r.headers.traceparent !== undefined)).toEqual([true, false, true, true]);
    expect(server.seen[1]?.headers.baggage).toBeUndefined();
    expect(sdk.clientSpans().map((s) => s.attributes['server.address'])).toEqual([
      'users',
      'api.example.com',
      'orders.default.svc.cluster.local',
      '127.0.0.1',
    ]);
    // The user is told once why api.example.com got nothing.
    expect(
      diagLog.messages.filter((m) => m.includes('not sending trace context to api.example.com')),
    ).toHaveLength(1);
  });

  it('node:http follows propagateTo too', async () => {
    disable = enableOutgoingTracing({ propagateTo: ['*.acme.test'] });
    await sdk.inParent(async () => {
      await httpGet('api.acme.test');
      await httpGet('127.0.0.1');
    });
    expect(sdk.clientSpans()).toHaveLength(2);
    if (nodeCanInjectHttp()) expect(tp(0)).toBeDefined();
    expect(tp(1)).toBeUndefined();
  });

  it('host patterns, URL prefixes, RegExps and predicates', async () => {
    disable = enableOutgoingTracing({
      propagateTo: [
        'exact.example.com',
        '*.corp.example',
        /\/by-regexp\//,
        (url) => url.searchParams.get('propagate') === 'yes',
      ],
    });
    await sdk.inParent(async () => {
      await call('exact.example.com'); // 0 yes
      await call('other.example.com'); // 1 no
      await call('a.b.corp.example'); // 2 yes (subdomain)
      await call('corp.example'); // 3 no (apex is not a subdomain)
      await call('regexp.example.com', '/by-regexp/x'); // 4 yes
      await call('pred.example.com', '/?propagate=yes'); // 5 yes
      await call('pred.example.com', '/?propagate=no'); // 6 no
    });
    expect(server.seen.map((r) => r.headers.traceparent !== undefined)).toEqual([
      true,
      false,
      true,
      false,
      true,
      true,
      false,
    ]);
  });

  it('a URL prefix matches on the path, an origin prefix matches the origin exactly', async () => {
    disable = enableOutgoingTracing({
      propagateTo: [`http://svc.example.com:${server.port}/api/`, `http://whole.example.com:${server.port}`],
    });
    await sdk.inParent(async () => {
      await call('svc.example.com', '/api/users'); // yes
      await call('svc.example.com', '/admin'); // no
      await call('whole.example.com', '/anything'); // yes
      await call('whole.example.com.evil.example', '/anything'); // no: not the same origin
    });
    expect(server.seen.map((r) => r.headers.traceparent !== undefined)).toEqual([true, false, true, false]);
  });

  it('true / "*" propagates everywhere; false nowhere (spans are still created)', async () => {
    disable = enableOutgoingTracing({ propagateTo: true });
    await sdk.inParent(() => call('api.example.com'));
    expect(tp(0)).toBeDefined();
    disable();
    server.seen.length = 0;
    disable = enableOutgoingTracing({ propagateTo: false });
    await sdk.inParent(() => call('127.0.0.1'));
    expect(tp(0)).toBeUndefined();
    expect(sdk.clientSpans()).toHaveLength(2);
  });
});

describe('spans, requireParent, ignore', () => {
  it('spans:false: no client span, context still propagated with the active span as parent', async () => {
    disable = enableOutgoingTracing({ spans: false });
    const { parent } = await sdk.inParent(() => call('127.0.0.1'));
    expect(sdk.clientSpans()).toHaveLength(0);
    expect(parseTraceparent(tp(0))?.parentId).toBe(parent.spanContext().spanId);
  });

  it('requireParent:false: a root CLIENT span without a parent, and its context is sent', async () => {
    disable = enableOutgoingTracing({ requireParent: false });
    await call('127.0.0.1');
    const [s] = sdk.clientSpans();
    expect(s).toBeDefined();
    expect(s?.parentSpanContext).toBeUndefined();
    expect(parseTraceparent(tp(0))?.parentId).toBe(s?.spanContext().spanId);
  });

  it('requireParent (default): no span without a parent, but baggage still propagates', async () => {
    disable = enableOutgoingTracing();
    const bag = propagation.createBaggage({ k: { value: 'v' } });
    await context.with(propagation.setBaggage(context.active(), bag), () => call('127.0.0.1'));
    expect(sdk.clientSpans()).toHaveLength(0);
    expect(tp(0)).toBeUndefined();
    expect(server.seen[0]?.headers.baggage).toBe('k=v');
  });

  it('ignore: no span and no headers for matching requests', async () => {
    disable = enableOutgoingTracing({ ignore: ['/never-a-host', /\/healthz$/] as const });
    await sdk.inParent(async () => {
      await call('127.0.0.1', '/healthz');
      await call('127.0.0.1', '/work');
    });
    expect(sdk.clientSpans().map((s) => s.attributes['url.full'])).toEqual([
      `http://127.0.0.1:${server.port}/work`,
    ]);
    expect(tp(0)).toBeUndefined();
    expect(tp(1)).toBeDefined();
  });

  it('a suppressed context (same key as @opentelemetry/core) gets neither span nor headers', async () => {
    // A tracer and a propagator that ignore suppression themselves (the official ones also check it),
    // so only tracewire's own check stands between a suppressed request and a span/header.
    let started = 0;
    const tracerProvider = {
      getTracer: () =>
        ({
          startSpan: () => {
            started++;
            return trace.wrapSpanContext({ traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), traceFlags: 1 });
          },
        }) as unknown as Tracer,
    };
    const naive: TextMapPropagator = {
      inject: (_ctx, carrier, setter) => setter.set(carrier, 'x-naive', '1'),
      extract: (ctx) => ctx,
      fields: () => ['x-naive'],
    };
    propagation.disable();
    propagation.setGlobalPropagator(naive);
    try {
      disable = enableOutgoingTracing({ requireParent: false, propagateTo: true, tracerProvider });
      const key = createContextKey('OpenTelemetry SDK Context Key SUPPRESS_TRACING');
      await context.with(context.active().setValue(key, true), async () => {
        await call('127.0.0.1');
        await httpGet('127.0.0.1');
      });
      await call('127.0.0.1'); // control: not suppressed
      expect(started).toBe(1);
      expect(server.seen.map((r) => r.headers['x-naive'])).toEqual([undefined, undefined, '1']);
    } finally {
      propagation.disable();
      propagation.setGlobalPropagator(
        new CompositePropagator({
          propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()],
        }),
      );
    }
  });
});

describe('hooks and templates', () => {
  it('urlTemplate names the span and sets url.template', async () => {
    disable = enableOutgoingTracing({
      urlTemplate: (url) => (url.pathname.startsWith('/users/') ? '/users/{id}' : undefined),
    });
    await sdk.inParent(async () => {
      await call('127.0.0.1', '/users/42');
      await call('127.0.0.1', '/other');
    });
    const [a, b] = sdk.clientSpans();
    expect(a?.name).toBe('GET /users/{id}');
    expect(a?.attributes['url.template']).toBe('/users/{id}');
    expect(b?.name).toBe('GET');
  });

  it('request and response hooks see the span and request/response', async () => {
    const seen: string[] = [];
    disable = enableOutgoingTracing({
      requestHook: (span, req) => {
        span.setAttribute('app.client', req.client);
        seen.push(`${req.method} ${req.url.pathname}`);
      },
      responseHook: (span, res) => span.setAttribute('app.status', res.statusCode),
    });
    await sdk.inParent(() => call('127.0.0.1', '/hooked'));
    expect(seen).toEqual(['GET /hooked']);
    const [s] = sdk.clientSpans();
    expect(s?.attributes['app.client']).toBe('undici');
    expect(s?.attributes['app.status']).toBe(200);
  });

  it('throwing hooks, templates and predicates never reach the caller; they are reported through diag', async () => {
    disable = enableOutgoingTracing({
      requestHook: () => {
        throw new Error('request hook boom');
      },
      responseHook: () => {
        throw new Error('response hook boom');
      },
      urlTemplate: () => {
        throw new Error('template boom');
      },
      propagateTo: [
        () => {
          throw new Error('predicate boom');
        },
      ],
      ignore: () => {
        throw new Error('ignore boom');
      },
    });
    await sdk.inParent(() => call('127.0.0.1', '/x'));
    await sdk.inParent(() => httpGet('127.0.0.1', '/y'));
    expect(server.seen).toHaveLength(2);
    expect(sdk.clientSpans()).toHaveLength(2);
    for (const s of sdk.clientSpans()) {
      expect(s.name).toBe('GET');
      expect(s.status.code).toBe(SpanStatusCode.UNSET);
    }
    const text = diagLog.messages.join('\n');
    for (const m of [
      'request hook boom',
      'response hook boom',
      'template boom',
      'predicate boom',
      'ignore boom',
    ]) {
      expect(text).toContain(m);
    }
  });
});

describe('enable / disable', () => {
  it('is idempotent: enabling twice still gives one span per request; the latest options win', async () => {
    const first = enableOutgoingTracing({ propagateTo: false });
    disable = enableOutgoingTracing({ propagateTo: true });
    await sdk.inParent(() => call('127.0.0.1'));
    expect(sdk.clientSpans()).toHaveLength(1);
    expect(tp(0)).toBeDefined();
    first(); // a replaced registration's disable is a no-op
    await sdk.inParent(() => call('127.0.0.1'));
    expect(sdk.clientSpans()).toHaveLength(2);
  });

  it('the state is shared through globalThis (one subscription for the CJS and ESM builds)', () => {
    disable = enableOutgoingTracing();
    expect((globalThis as Record<symbol, unknown>)[Symbol.for('tracewire.outgoing')]).toBeDefined();
    disable();
    expect((globalThis as Record<symbol, unknown>)[Symbol.for('tracewire.outgoing')]).toBeUndefined();
  });

  it('after disable nothing is traced or injected', async () => {
    enableOutgoingTracing()();
    await sdk.inParent(() => call('127.0.0.1'));
    expect(sdk.clientSpans()).toHaveLength(0);
    expect(tp(0)).toBeUndefined();
  });

  it('bad options throw a TypeError naming the option', () => {
    const bad = (o: unknown) => () => enableOutgoingTracing(o as never);
    expect(bad(5)).toThrow(TypeError);
    expect(bad({ spans: 'no' })).toThrow(/"spans" must be a boolean/);
    expect(bad({ requireParent: 1 })).toThrow(/"requireParent"/);
    expect(bad({ propagateTo: 42 })).toThrow(/"propagateTo"/);
    expect(bad({ propagateTo: ['ok.example.com', ''] })).toThrow(/"propagateTo"/);
    expect(bad({ propagateTo: 'ftp://x.example.com/' })).toThrow(
      /"propagateTo" must be http\(s\) URL prefixes/,
    );
    expect(bad({ ignore: { host: 'x' } })).toThrow(/"ignore"/);
    expect(bad({ requestHook: 'x' })).toThrow(/"requestHook" must be a function/);
    expect(bad({ redactQueryKeys: 'token' })).toThrow(/"redactQueryKeys"/);
    expect(bad({ tracerProvider: {} })).toThrow(/"tracerProvider"/);
    // A failed call changes nothing.
    expect((globalThis as Record<symbol, unknown>)[Symbol.for('tracewire.outgoing')]).toBeUndefined();
  });

  it('redactQueryKeys adds keys to the built-in signature list', async () => {
    disable = enableOutgoingTracing({ redactQueryKeys: ['token'] });
    await sdk.inParent(() => call('127.0.0.1', '/q?token=t0p&Signature=s&sig=x&keep=1'));
    expect(sdk.clientSpans()[0]?.attributes['url.full']).toBe(
      `http://127.0.0.1:${server.port}/q?token=REDACTED&Signature=REDACTED&sig=REDACTED&keep=1`,
    );
  });
});

describe('isInternalHost (the default propagateTo)', () => {
  it.each([
    ['localhost', true],
    ['users', true],
    ['orders.default.svc', true],
    ['orders.default.svc.cluster.local', true],
    ['host.docker.internal', true],
    ['printer.local', true],
    ['nas.home.arpa', true],
    ['127.0.0.1', true],
    ['10.1.2.3', true],
    ['172.16.0.1', true],
    ['172.31.255.255', true],
    ['192.168.1.1', true],
    ['100.64.0.1', true],
    ['::1', true],
    ['fd12:3456::1', true],
    ['::ffff:10.0.0.1', true],
    ['172.32.0.1', false],
    ['169.254.169.254', false],
    ['fe80::1', false],
    ['8.8.8.8', false],
    ['api.example.com', false],
    ['localhost.example.com', false],
    ['svc.example.com', false],
    ['2001:db8::1', false],
  ])('%s → %s', (host, expected) => {
    expect(isInternalHost(host)).toBe(expected);
  });
});

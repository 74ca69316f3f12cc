import { context, DiagLogLevel, diag, propagation, trace } from '@opentelemetry/api';
import type { Express, NextFunction, Request, Response } from 'express';
import express4 from 'express4';
import express5 from 'express5';
import { readFileSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tracewire } from '../src/index.js';
import {
  durationMs,
  INTERNAL,
  officialSdk,
  type Served,
  send,
  serve,
  sleep,
  spanFor,
  type Tracing,
} from './helpers.js';

type ExpressFactory = typeof express5;

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT_ID = '00f067aa0ba902b7';

/** What a handler would send downstream: the traceparent of the active context. */
function outgoingTraceparent(): string | undefined {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return carrier.traceparent;
}

function buildApp(express: ExpressFactory): Express {
  const app = express();
  app.use(
    tracewire({ ignore: ['/healthz'], captureHeaders: { request: ['x-tenant'], response: ['x-served-by'] } }),
  );
  app.get('/healthz', (_req: Request, res: Response) =>
    res.json({ traceparent: outgoingTraceparent() ?? null }),
  );
  app.get('/users/:id', (_req: Request, res: Response) => {
    res.setHeader('x-served-by', 'node-1');
    res.json({ traceparent: outgoingTraceparent() ?? null });
  });
  app.get('/work', async (_req: Request, res: Response) => {
    const tracer = trace.getTracer('shop');
    await sleep(5);
    await tracer.startActiveSpan('after-await', async (span) => {
      await sleep(5);
      span.end();
    });
    await new Promise<void>((resolve) =>
      setTimeout(() => {
        tracer.startSpan('in-timer').end();
        resolve();
      }, 5),
    );
    const stream = new PassThrough();
    stream.on('data', () => tracer.startSpan('in-stream').end());
    await new Promise<void>((resolve) => {
      stream.on('end', resolve);
      stream.end('x');
      stream.resume();
    });
    res.send('done');
  });
  app.get('/custom-route', (_req: Request, res: Response) => {
    trace.getActiveSpan()?.setAttribute('http.route', '/custom/{slug}');
    res.send('ok');
  });
  return app;
}

describe.each([
  ['Express 4', express4 as unknown as ExpressFactory],
  ['Express 5', express5],
])('%s: behaviour', (_label, express) => {
  let tracing: Tracing;
  let server: Served;
  beforeAll(async () => {
    tracing = await officialSdk();
    server = await serve(buildApp(express));
  });
  afterAll(async () => {
    await server?.close();
    await tracing?.shutdown();
  });

  it('continues an incoming trace: same trace id, the caller as parent, outgoing calls carry the server span', async () => {
    const reply = await send(`${server.url}/users/1`, {
      headers: { traceparent: `00-${TRACE_ID}-${PARENT_ID}-01` },
    });
    const [span] = await tracing.waitForServerSpans(1);
    expect(span?.traceId).toBe(TRACE_ID);
    expect(span?.parentSpanId).toBe(PARENT_ID);
    expect(JSON.parse(reply.body).traceparent).toBe(`00-${TRACE_ID}-${span?.spanId}-01`);
  });

  it('sets the semantic-convention attributes and captures the listed headers as string arrays', async () => {
    tracing.receiver.reset();
    await send(`${server.url}/users/2?q=1`, { headers: { 'x-tenant': 'blue', 'user-agent': 'ua-test' } });
    const [span] = await tracing.waitForServerSpans(1);
    expect(span?.kind).toBe(2);
    expect(span?.attributes).toMatchObject({
      'http.request.method': 'GET',
      'url.path': '/users/2',
      'url.query': 'q=1',
      'url.scheme': 'http',
      'http.route': '/users/:id',
      'http.response.status_code': 200,
      'server.address': '127.0.0.1',
      'server.port': server.port,
      'user_agent.original': 'ua-test',
      'network.protocol.version': '1.1',
      'http.request.header.x-tenant': ['blue'],
      'http.response.header.x-served-by': ['node-1'],
    });
    expect(span?.scope.name).toBe('@tracewire/express');
  });

  it('ignore: no span, but the incoming trace still flows to outgoing calls', async () => {
    tracing.receiver.reset();
    const reply = await send(`${server.url}/healthz`, {
      headers: { traceparent: `00-${TRACE_ID}-${PARENT_ID}-01` },
    });
    expect(JSON.parse(reply.body).traceparent).toBe(`00-${TRACE_ID}-${PARENT_ID}-01`);
    await send(`${server.url}/users/3`);
    const spans = await tracing.waitForServerSpans(1);
    await sleep(50);
    expect(tracing.serverSpans().map((s) => s.attributes['url.path'])).toEqual(['/users/3']);
    expect(spans).toHaveLength(1);
  });

  it('user spans across awaits, timers and streams are children of the server span', async () => {
    tracing.receiver.reset();
    await send(`${server.url}/work`);
    const all = await tracing.receiver.waitFor((s) => s.length >= 4);
    const server0 = spanFor(
      all.filter((s) => s.kind === 2),
      '/work',
    );
    for (const name of ['after-await', 'in-timer', 'in-stream']) {
      const child = all.find((s) => s.name === name);
      expect(child?.parentSpanId, name).toBe(server0.spanId);
      expect(child?.traceId, name).toBe(server0.traceId);
    }
  });

  it('a route user code set on the span is not overwritten', async () => {
    tracing.receiver.reset();
    await send(`${server.url}/custom-route`);
    const [span] = await tracing.waitForServerSpans(1);
    expect(span?.attributes['http.route']).toBe('/custom/{slug}');
    expect(span?.name).toBe('GET /custom/{slug}');
  });
});

describe('options', () => {
  it('a bad option is a TypeError naming it, at creation', () => {
    // biome-ignore lint/suspicious/noExplicitAny: deliberately wrong input
    expect(() => tracewire({ middlewareSpans: 'yes' as any })).toThrow(/"middlewareSpans" must be a boolean/);
    // biome-ignore lint/suspicious/noExplicitAny: deliberately wrong input
    expect(() => tracewire({ ignore: 5 as any })).toThrow(TypeError);
    // biome-ignore lint/suspicious/noExplicitAny: deliberately wrong input
    expect(() => tracewire({ ignore: 5 as any })).toThrow(/ignore/);
    // biome-ignore lint/suspicious/noExplicitAny: deliberately wrong input
    expect(() => tracewire('x' as any)).toThrow(/options must be an object/);
    expect(() => tracewire()).not.toThrow();
  });

  it('returns a named middleware function', () => {
    expect(tracewire().name).toBe('tracewireMiddleware');
  });

  it('reports the version in package.json as the instrumentation scope version', async () => {
    const { PACKAGE_VERSION } = await import('../src/version.js');
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
    expect(PACKAGE_VERSION).toBe(pkg.version);
  });
});

describe('telemetry never breaks the app', () => {
  let tracing: Tracing;
  let server: Served;
  const diagMessages: string[] = [];
  beforeAll(async () => {
    tracing = await officialSdk();
    diag.setLogger(
      {
        error: (m: string) => diagMessages.push(m),
        warn: (m: string) => diagMessages.push(m),
        info: () => {},
        debug: () => {},
        verbose: () => {},
      },
      { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true },
    );
    const app = express5();
    app.use(
      tracewire({
        requestHook: () => {
          throw new Error('hook bug');
        },
        spanName: () => {
          throw new Error('name bug');
        },
      }),
    );
    app.get('/ok/:id', (_req: Request, res: Response) => res.send('fine'));
    server = await serve(app);
  });
  afterAll(async () => {
    diag.disable();
    await server?.close();
    await tracing?.shutdown();
  });

  it('throwing hooks: the request is served, the span keeps its default name, the problem goes to diag', async () => {
    const reply = await send(`${server.url}/ok/1`);
    expect(reply.status).toBe(200);
    expect(reply.body).toBe('fine');
    const [span] = await tracing.waitForServerSpans(1);
    expect(span?.name).toBe('GET /ok/:id');
    expect(diagMessages.join('\n')).toMatch(/hook bug|requestHook/);
  });
});

describe('middlewareSpans', () => {
  let tracing: Tracing;
  beforeAll(async () => {
    tracing = await officialSdk();
  });
  afterAll(async () => {
    await tracing?.shutdown();
  });

  function app(express: ExpressFactory): Express {
    const a = express();
    a.use(tracewire({ middlewareSpans: true }));
    a.use(function slowAuth(_req: Request, _res: Response, next: NextFunction) {
      setTimeout(next, 60);
    });
    a.use(async function loadTenant(_req: Request, _res: Response, next: NextFunction) {
      await sleep(40);
      next();
    });
    const api = express.Router();
    api.get('/orders/:id', async function getOrder(_req: Request, res: Response) {
      await sleep(30);
      res.send('order');
    });
    a.use('/api', api);
    return a;
  }

  it('Express 5: one child span per middleware and handler, named after it, timed until it hands over', async () => {
    tracing.receiver.reset();
    const server = await serve(app(express5));
    try {
      await send(`${server.url}/api/orders/5`);
      const all = await tracing.receiver.waitFor((s) => s.length >= 4);
      const root = spanFor(
        all.filter((s) => s.kind === 2),
        '/api/orders/5',
      );
      expect(root.name).toBe('GET /api/orders/:id');
      const byName = (n: string) => all.find((s) => s.name === n);
      for (const [name, min] of [
        ['slowAuth', 60],
        ['loadTenant', 40],
        ['getOrder', 30],
      ] as const) {
        const s = byName(name);
        expect(s?.kind, name).toBe(INTERNAL);
        expect(s?.parentSpanId, name).toBe(root.spanId);
        expect(durationMs(s as NonNullable<typeof s>), name).toBeGreaterThanOrEqual(min - 2);
        // each hands over to the next: none covers the whole request
        expect(durationMs(s as NonNullable<typeof s>), name).toBeLessThan(durationMs(root));
      }
      // routers and tracewire's own middleware get no span of their own
      expect(
        all
          .filter((s) => s.kind === INTERNAL)
          .map((s) => s.name)
          .sort(),
      ).toEqual(['getOrder', 'loadTenant', 'slowAuth']);
    } finally {
      await server.close();
    }
  });

  it('Express 4: no middleware spans (not observable without patching), the request is still traced', async () => {
    tracing.receiver.reset();
    const server = await serve(app(express4 as unknown as ExpressFactory));
    try {
      await send(`${server.url}/api/orders/5`);
      const [root] = await tracing.waitForServerSpans(1);
      await sleep(50);
      expect(root?.name).toBe('GET /api/orders/:id');
      expect(tracing.receiver.spans().filter((s) => s.kind === INTERNAL)).toHaveLength(0);
    } finally {
      await server.close();
    }
  });
});

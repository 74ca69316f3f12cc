import Router from '@koa/router';
import { context, propagation, trace } from '@opentelemetry/api';
import type { DecodedSpan } from '@tracewire/test-utils';
import koa2 from 'koa2';
import koa3 from 'koa3';
import { readFileSync } from 'node:fs';
import { Socket } from 'node:net';
import { PassThrough, Readable } from 'node:stream';
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

type KoaClass = typeof koa3;

class PaymentError extends Error {
  override name = 'PaymentError';
}

const UNSET = 0;
const ERROR = 2;
const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT_ID = '00f067aa0ba902b7';

function exceptions(span: DecodedSpan) {
  return span.events
    .filter((e) => e.name === 'exception')
    .map((e) => ({
      type: e.attributes['exception.type'],
      message: e.attributes['exception.message'],
      stack: e.attributes['exception.stacktrace'],
    }));
}

function outgoingTraceparent(): string | null {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return carrier.traceparent ?? null;
}

function abortedRequest(port: number, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = new Socket();
    socket.connect(port, '127.0.0.1', () => {
      socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
      setTimeout(() => {
        socket.destroy();
        resolve();
      }, 100);
    });
    socket.on('error', reject);
  });
}

function buildApp(Koa: KoaClass) {
  const app = new Koa();
  app.silent = true; // keep Koa's default error logging out of the test output
  app.use(tracewire({ ignore: ['/healthz'], captureHeaders: { request: ['x-tenant'] } }));
  // an application error middleware that answers 503 and reports the error the Koa way
  app.use(async (ctx, next) => {
    try {
      await next();
    } catch (err) {
      if (ctx.path !== '/caught-503') throw err;
      ctx.status = 503;
      ctx.body = 'try later';
      ctx.app.emit('error', err, ctx);
    }
  });
  const r = new Router();
  r.get('/healthz', (ctx) => {
    ctx.body = { traceparent: outgoingTraceparent() };
  });
  r.get('/users/:id', (ctx) => {
    ctx.body = { traceparent: outgoingTraceparent() };
  });
  r.get('/throw', () => {
    throw new PaymentError('card declined');
  });
  r.get('/async-throw', async () => {
    await sleep(5);
    throw new PaymentError('async failure');
  });
  r.get('/http-422', (ctx) => {
    ctx.throw(422, 'bad input');
  });
  r.get('/caught-503', () => {
    throw new PaymentError('upstream down');
  });
  r.get('/sent-500', (ctx) => {
    ctx.status = 500;
    ctx.body = 'oops';
  });
  r.get('/stream', (ctx) => {
    let n = 0;
    ctx.type = 'text/plain';
    ctx.body = new Readable({
      read() {
        n++;
        if (n > 4) this.push(null);
        else setTimeout(() => this.push(`chunk ${n}\n`), 80);
      },
    });
  });
  r.get('/slow', async (ctx) => {
    await sleep(1500);
    ctx.body = 'late';
  });
  r.get('/work', async (ctx) => {
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
    ctx.body = 'done';
  });
  r.get('/custom-route', (ctx) => {
    trace.getActiveSpan()?.setAttribute('http.route', '/custom/{slug}');
    ctx.body = 'ok';
  });
  app.use(r.routes());
  return app;
}

describe.each([
  ['Koa 2', koa2 as unknown as KoaClass],
  ['Koa 3', koa3],
])('%s: errors, status, timing, propagation', (_label, Koa) => {
  let tracing: Tracing;
  let server: Served;
  const one = async (path: string) => {
    await tracing.receiver.waitFor((s) => s.some((x) => x.kind === 2 && x.attributes['url.path'] === path));
    return spanFor(tracing.serverSpans(), path);
  };

  beforeAll(async () => {
    tracing = await officialSdk();
    server = await serve(buildApp(Koa).callback());
  });
  afterAll(async () => {
    await server?.close();
    await tracing?.shutdown();
  });

  it('a throw in a handler: 500, ERROR, error.type is the exception type, exception event with stack', async () => {
    expect((await send(`${server.url}/throw`)).status).toBe(500);
    const span = await one('/throw');
    expect(span.name).toBe('GET /throw');
    expect(span.status.code).toBe(ERROR);
    expect(span.attributes['error.type']).toBe('PaymentError');
    expect(span.attributes['http.response.status_code']).toBe(500);
    const [ex] = exceptions(span);
    expect(ex?.type).toBe('PaymentError');
    expect(ex?.message).toBe('card declined');
    expect(String(ex?.stack)).toContain('behaviour.test.ts');
  });

  it('an async throw after an await: recorded the same way', async () => {
    expect((await send(`${server.url}/async-throw`)).status).toBe(500);
    const span = await one('/async-throw');
    expect(span.attributes['error.type']).toBe('PaymentError');
    expect(exceptions(span).map((e) => e.message)).toEqual(['async failure']);
  });

  it('ctx.throw(422): the status Koa sent, exception kept, status unset, no error.type', async () => {
    expect((await send(`${server.url}/http-422`)).status).toBe(422);
    const span = await one('/http-422');
    expect(span.attributes['http.response.status_code']).toBe(422);
    expect(span.status.code).toBe(UNSET);
    expect(span.attributes['error.type']).toBeUndefined();
    expect(exceptions(span).map((e) => e.message)).toEqual(['bad input']);
  });

  it('an error an error middleware caught, answered with 503 and emitted on the app: recorded with the status sent', async () => {
    expect((await send(`${server.url}/caught-503`)).status).toBe(503);
    const span = await one('/caught-503');
    expect(span.attributes['http.response.status_code']).toBe(503);
    expect(span.status.code).toBe(ERROR);
    expect(span.attributes['error.type']).toBe('PaymentError');
    expect(exceptions(span)).toHaveLength(1);
  });

  it('a 500 the handler set itself: ERROR with error.type "500", no exception', async () => {
    expect((await send(`${server.url}/sent-500`)).status).toBe(500);
    const span = await one('/sent-500');
    expect(span.status.code).toBe(ERROR);
    expect(span.attributes['error.type']).toBe('500');
    expect(exceptions(span)).toHaveLength(0);
  });

  it('a streamed body: the span ends when the last chunk is written', async () => {
    const reply = await send(`${server.url}/stream`);
    expect(reply.body).toBe('chunk 1\nchunk 2\nchunk 3\nchunk 4\n');
    const span = await one('/stream');
    expect(durationMs(span)).toBeGreaterThanOrEqual(300);
    expect(span.status.code).toBe(UNSET);
  });

  it('a client abort: one span, ERROR, error.type "aborted"', async () => {
    await abortedRequest(server.port, '/slow');
    const span = await one('/slow');
    await sleep(1600);
    expect(tracing.serverSpans().filter((s) => s.attributes['url.path'] === '/slow')).toHaveLength(1);
    expect(span.status.code).toBe(ERROR);
    expect(span.attributes['error.type']).toBe('aborted');
  });

  it('continues an incoming trace; outgoing calls carry the server span', async () => {
    const reply = await send(`${server.url}/users/1`, {
      headers: { traceparent: `00-${TRACE_ID}-${PARENT_ID}-01` },
    });
    const span = await one('/users/1');
    expect(span.traceId).toBe(TRACE_ID);
    expect(span.parentSpanId).toBe(PARENT_ID);
    expect(JSON.parse(reply.body).traceparent).toBe(`00-${TRACE_ID}-${span.spanId}-01`);
    expect(span.scope.name).toBe('@tracewire/koa');
  });

  it('ignore: no span, but the incoming trace still flows to outgoing calls', async () => {
    const reply = await send(`${server.url}/healthz`, {
      headers: { traceparent: `00-${TRACE_ID}-${PARENT_ID}-01` },
    });
    expect(JSON.parse(reply.body).traceparent).toBe(`00-${TRACE_ID}-${PARENT_ID}-01`);
    await send(`${server.url}/users/2`);
    await one('/users/2');
    expect(tracing.serverSpans().filter((s) => s.attributes['url.path'] === '/healthz')).toHaveLength(0);
  });

  it('user spans across awaits, timers and streams are children of the server span', async () => {
    await send(`${server.url}/work`);
    const root = await one('/work');
    const all = await tracing.receiver.waitFor((s) =>
      ['after-await', 'in-timer', 'in-stream'].every((n) =>
        s.some((x) => x.name === n && x.traceId === root.traceId),
      ),
    );
    for (const name of ['after-await', 'in-timer', 'in-stream']) {
      const child = all.find((s) => s.name === name && s.traceId === root.traceId);
      expect(child?.parentSpanId, name).toBe(root.spanId);
    }
  });

  it('a route user code set on the span is not overwritten', async () => {
    await send(`${server.url}/custom-route`);
    const span = await one('/custom-route');
    expect(span.attributes['http.route']).toBe('/custom/{slug}');
    expect(span.name).toBe('GET /custom/{slug}');
  });
});

describe('options', () => {
  it('a bad option is a TypeError naming it, at creation', () => {
    // biome-ignore lint/suspicious/noExplicitAny: deliberately wrong input
    expect(() => tracewire({ middlewareSpans: 1 as any })).toThrow(/"middlewareSpans" must be a boolean/);
    // biome-ignore lint/suspicious/noExplicitAny: deliberately wrong input
    expect(() => tracewire({ captureHeaders: 'x' as any })).toThrow(/captureHeaders/);
    // biome-ignore lint/suspicious/noExplicitAny: deliberately wrong input
    expect(() => tracewire([] as any)).toThrow(TypeError);
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

describe.each([
  ['Koa 2', koa2 as unknown as KoaClass],
  ['Koa 3', koa3],
])('%s: middlewareSpans', (_label, Koa) => {
  let tracing: Tracing;
  beforeAll(async () => {
    tracing = await officialSdk();
  });
  afterAll(async () => {
    await tracing?.shutdown();
  });

  it('one span per middleware after tracewire(), named after it, lasting until its promise settles', async () => {
    const app = new Koa();
    app.use(tracewire({ middlewareSpans: true }));
    app.use(async function timing(_ctx, next) {
      await next();
    });
    app.use(async function auth(_ctx, next) {
      await sleep(40);
      await next();
    });
    const r = new Router();
    r.get('/orders/:id', async (ctx) => {
      await sleep(30);
      trace.getTracer('shop').startSpan('query').end();
      ctx.body = 'order';
    });
    app.use(r.routes());
    const server = await serve(app.callback());
    try {
      expect((await send(`${server.url}/orders/1`)).body).toBe('order');
      const all = await tracing.receiver.waitFor(
        (s) => s.filter((x) => x.kind === INTERNAL).length >= 4 && s.some((x) => x.kind === 2),
      );
      const root = spanFor(
        all.filter((s) => s.kind === 2),
        '/orders/1',
      );
      expect(root.name).toBe('GET /orders/:id');
      const by = (n: string) => all.find((s) => s.name === n) as DecodedSpan;
      expect(by('timing').parentSpanId).toBe(root.spanId);
      expect(by('auth').parentSpanId).toBe(by('timing').spanId);
      expect(by('router').parentSpanId).toBe(by('auth').spanId);
      expect(by('query').parentSpanId).toBe(by('router').spanId);
      expect(durationMs(by('auth'))).toBeGreaterThanOrEqual(68);
      expect(durationMs(by('router'))).toBeGreaterThanOrEqual(28);
      for (const n of ['timing', 'auth', 'router']) expect(by(n).kind).toBe(INTERNAL);
    } finally {
      await server.close();
    }
  });
});

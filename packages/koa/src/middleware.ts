import type { Tracer } from '@opentelemetry/api';
import * as api from '@opentelemetry/api';
import { createHttpServerTracing, type ServerRequestTrace } from '@tracewire/core';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type KoaTracewireOptions, normaliseOptions } from './options.js';
import { errorMessage, report } from '@tracewire/core';
import { PACKAGE_NAME, PACKAGE_VERSION } from './version.js';

// Read once: in the CommonJS build each `api.x` would be a load from the API's exports object,
// which V8 keeps in dictionary mode (see @tracewire/core's src/api.ts).
const { context, SpanKind, SpanStatusCode, trace } = api;

/** Koa's `next`. */
export type KoaNext = () => Promise<unknown>;

/**
 * The parts of a Koa context tracewire reads. Structural, so this package needs no Koa types at
 * run time or in its `.d.ts`, and `app.use()` of Koa 2 and 3 accepts the middleware.
 */
export interface KoaContextLike {
  req: IncomingMessage;
  res: ServerResponse;
  /** The application (for `middlewareSpans`: its `middleware` list). */
  app?: unknown;
  /** Set by @koa/router: the matched route's full path template, prefixes included. */
  _matchedRoute?: unknown;
}

/** The middleware `tracewire()` returns. */
export type TracewireMiddleware = (ctx: KoaContextLike, next: KoaNext) => Promise<void>;

/**
 * The request's trace on the Koa context: marks a context an outer tracewire() already handles (a
 * mounted sub-app registering it again) and lets the app `error` listener find the span. A
 * registered symbol: the CJS and ESM builds of this package can both be loaded.
 */
const TRACE = Symbol.for('tracewire.koa.trace');

/** Apps whose `error` event we listen to (Koa's convention for errors a middleware caught: `ctx.app.emit('error', err, ctx)`). */
const listening = new WeakSet<object>();

type KoaMiddleware = (ctx: unknown, next: KoaNext) => unknown;

/**
 * OpenTelemetry tracing for a Koa 2 or 3 app: one SERVER span per request, named
 * `GET /users/:id` from the route template @koa/router matched (prefixes and nested routers
 * included), with the HTTP semantic convention attributes, status, W3C trace-context propagation
 * and the exceptions thrown downstream. Register it first.
 *
 * Spans go to whatever SDK is registered through `@opentelemetry/api`: tracewire's (`start()` from
 * `@tracewire/core`) or the official one. A bad option throws a `TypeError` naming it.
 *
 * @example
 * ```ts
 * import Koa from 'koa';
 * import Router from '@koa/router';
 * import { start } from '@tracewire/core';
 * import { tracewire } from '@tracewire/koa';
 *
 * start({ serviceName: 'shop' });
 * const app = new Koa();
 * app.use(tracewire({ ignore: ['/healthz'] }));
 * const router = new Router({ prefix: '/api' });
 * router.get('/users/:id', (ctx) => { ctx.body = { id: ctx.params.id }; });
 * app.use(router.routes());
 * app.listen(3000);
 * ```
 */
export function tracewire(options?: KoaTracewireOptions): TracewireMiddleware {
  const { lifecycle, middlewareSpans } = normaliseOptions(options);
  const tracing = createHttpServerTracing(lifecycle, { name: PACKAGE_NAME, version: PACKAGE_VERSION });
  const tracer = middlewareSpans
    ? (lifecycle.tracerProvider ?? trace.getTracerProvider()).getTracer(PACKAGE_NAME, PACKAGE_VERSION)
    : undefined;

  // Not an `async` function: with AsyncLocalStorage on Node 20 every promise runs an async hook,
  // and an async function with `await` in try/finally creates several more promises per request
  // than one `.then` on the promise `next()` already returns (measured with callgrind).
  function tracewireMiddleware(ctx: KoaContextLike, next: KoaNext): Promise<void> {
    const c = ctx as KoaContextLike & { [TRACE]?: ServerRequestTrace };
    if (c[TRACE] !== undefined) return next().then(noop);
    let t: ServerRequestTrace;
    try {
      t = tracing.begin(ctx.req, ctx.res);
      c[TRACE] = t;
      if (t.recording) listenForAppErrors(ctx.app);
    } catch (err) {
      report('koa:begin', `@tracewire/koa: could not trace a request: ${errorMessage(err)}`);
      return next().then(noop);
    }
    if (!t.recording) {
      // Ignored or not sampled: no span, but downstream still runs in the caller's trace context.
      // Koa ignores what a middleware's promise resolves to: `next()`'s own promise is returned,
      // without a `.then` (one promise and one microtask less per request).
      return context.with(t.context, next) as Promise<void>;
    }
    let downstream: Promise<unknown>;
    try {
      const run = tracer === undefined ? next : (tracedDownstream(tracer, ctx, tracewireMiddleware) ?? next);
      downstream = context.with(t.context, run);
    } catch (err) {
      settled(ctx, t, err, true);
      throw err;
    }
    return afterDownstream(ctx, t, downstream);
  }
  return tracewireMiddleware;
}

function noop(): void {}

/**
 * Downstream finished: a thrown error is recorded (Koa's error handling turns it into the response
 * after we rethrow), and the route is named. @koa/router sets `_matchedRoute` to the full template
 * (its layers are cloned with every prefix applied), known before Koa writes the body, so before
 * the span ends.
 */
function settled(ctx: KoaContextLike, t: ServerRequestTrace, err: unknown, failed: boolean): void {
  if (failed) t.recordError(err);
  nameRoute(ctx, t);
}

/** Waits for downstream, then records a rejection (rethrown unchanged) and names the route. */
function afterDownstream(
  ctx: KoaContextLike,
  t: ServerRequestTrace,
  downstream: Promise<unknown>,
): Promise<void> {
  return Promise.resolve(downstream).then(
    () => settled(ctx, t, undefined, false),
    (err: unknown) => {
      settled(ctx, t, err, true);
      throw err;
    },
  );
}

/**
 * Errors a downstream middleware catches never reach us by `throw`; Koa's documented convention is
 * to report them with `ctx.app.emit('error', err, ctx)` (Koa's own error handling does the same).
 * We listen from the first request on: by then Koa's `callback()` has already decided whether to
 * install its default logger (it does when no listener exists), so listening changes nothing else.
 */
function listenForAppErrors(app: unknown): void {
  if (typeof app !== 'object' || app === null || listening.has(app)) return;
  const emitter = app as { on?: unknown };
  if (typeof emitter.on !== 'function') return;
  listening.add(app);
  (emitter as { on(event: 'error', fn: (err: unknown, ctx: unknown) => void): void }).on('error', onAppError);
}

function onAppError(err: unknown, ctx: unknown): void {
  try {
    const t = (ctx as { [TRACE]?: ServerRequestTrace } | null | undefined)?.[TRACE];
    if (t !== undefined && typeof t.recordError === 'function') t.recordError(err);
  } catch (e) {
    report('koa:app-error', `@tracewire/koa: could not record an app error: ${errorMessage(e)}`);
  }
}

function nameRoute(ctx: KoaContextLike, t: ServerRequestTrace): void {
  try {
    const route = ctx._matchedRoute;
    if (typeof route === 'string' && route !== '') t.setRoute(route);
    // a RegExp route: its source is a stable, low-cardinality name
    else if (route instanceof RegExp) t.setRoute(route.source);
  } catch (err) {
    report('koa:route', `@tracewire/koa: could not read the matched route: ${errorMessage(err)}`);
  }
}

// ---------------------------------------------------------------------------------------------
// middlewareSpans: run the rest of `app.middleware` ourselves, one span per function.

const positions = new WeakMap<object, { length: number; index: number }>();

/** A `next` that runs the middleware after ours with a span each, or undefined when ours is not found in `app.middleware`. */
function tracedDownstream(tracer: Tracer, ctx: KoaContextLike, self: unknown): KoaNext | undefined {
  const app = ctx.app as { middleware?: unknown } | undefined;
  const list = app?.middleware;
  if (!Array.isArray(list) || app === undefined) return undefined;
  let pos = positions.get(app);
  if (pos === undefined || pos.length !== list.length) {
    pos = { length: list.length, index: list.indexOf(self) };
    positions.set(app, pos);
  }
  if (pos.index === -1) {
    report(
      'koa:middleware-spans-position',
      '@tracewire/koa: middlewareSpans needs tracewire() registered directly with app.use(); spans skipped',
    );
    return undefined;
  }
  const middleware = list as KoaMiddleware[];
  const start = pos.index + 1;
  return () => dispatch(tracer, middleware, start, ctx);
}

function dispatch(
  tracer: Tracer,
  middleware: readonly KoaMiddleware[],
  i: number,
  ctx: unknown,
): Promise<unknown> {
  const fn = middleware[i];
  if (fn === undefined) return Promise.resolve();
  let called = false;
  const next: KoaNext = () => {
    // koa-compose's rule, kept: calling next() twice is a bug in the middleware.
    if (called) return Promise.reject(new Error('next() called multiple times'));
    called = true;
    return dispatch(tracer, middleware, i + 1, ctx);
  };
  const name = middlewareName(fn);
  return tracer.startActiveSpan(
    name,
    { kind: SpanKind.INTERNAL, attributes: { 'code.function.name': name } },
    async (span) => {
      try {
        return await fn(ctx, next);
      } catch (err) {
        span.recordException(err instanceof Error ? err : String(err));
        span.setStatus({ code: SpanStatusCode.ERROR });
        throw err;
      } finally {
        span.end();
      }
    },
  );
}

function middlewareName(fn: KoaMiddleware): string {
  // @koa/router's `routes()` is an anonymous bound function carrying its router: name it after the prefix.
  const router = (fn as { router?: { opts?: { prefix?: unknown } } }).router;
  if (router !== undefined) {
    const prefix = router.opts?.prefix;
    return typeof prefix === 'string' && prefix !== '' ? `router ${prefix}` : 'router';
  }
  const name = fn.name.startsWith('bound ') ? fn.name.slice(6) : fn.name;
  return name === '' ? '<anonymous>' : name;
}

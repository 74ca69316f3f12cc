import type { Span, Tracer } from '@opentelemetry/api';
import * as api from '@opentelemetry/api';
import type { ServerRequestTrace } from '@tracewire/core';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { errorMessage, report } from '@tracewire/core';
import { type ExpressRoute, isExpressApp, resolveRouteTemplate, topApp } from './route-template.js';

// Read once: in the CommonJS build each `api.x` would be a load from the API's exports object,
// which V8 keeps in dictionary mode (see @tracewire/core's src/api.ts).
const { SpanKind, SpanStatusCode } = api;

/**
 * The context key a traced request's state is kept under: the rest of the request runs in that
 * context, so the diagnostics-channel subscriber, `recordErrors()` and a nested `tracewire()` find
 * it there, checked against their `req`. Not a property of `req`: see {@link ExpressRequest.enter}.
 * A registered symbol: the CJS and the ESM build of this package can both be loaded, and the
 * subscriber of one must find the state created by the other.
 */
const REQUEST_STATE = Symbol.for('tracewire.express.request');

export type TracedRequest = IncomingMessage & {
  route?: unknown;
  app?: unknown;
  originalUrl?: unknown;
};

/** What a request's state offers the channel subscriber and `recordErrors()` (either build's). */
export interface RequestStateLike {
  readonly req: unknown;
  recordError(error: unknown): void;
  routerStart(msg: RouterChannelMessage): void;
  routerEnd(msg: RouterChannelMessage): void;
  routerAsyncEnd(msg: RouterChannelMessage): void;
  routerError(msg: RouterChannelMessage): void;
}

/** The state of the traced request `req` in context `ctx`, if `ctx` is that request's. */
export function requestStateOf(ctx: api.Context, req: unknown): RequestStateLike | undefined {
  const state = ctx.getValue(REQUEST_STATE) as Partial<RequestStateLike> | undefined;
  // Duck-typed: the state may come from the other (CJS/ESM) build of this package.
  return state !== undefined &&
    state.req === req &&
    req !== undefined &&
    typeof state.routerStart === 'function'
    ? (state as RequestStateLike)
    : undefined;
}

/** What `router` (>= 2.3, Express 5) publishes on the `express.router.request` tracing channel. */
export interface RouterChannelMessage {
  req?: TracedRequest;
  res?: ServerResponse;
  layer?: unknown;
  handler?: unknown;
  route?: unknown;
  error?: unknown;
  result?: unknown;
  errorHandler?: boolean;
  [MIDDLEWARE_SPAN]?: MiddlewareSpan;
}

const MIDDLEWARE_SPAN = Symbol('tracewire.express.middlewareSpan');

interface MiddlewareSpan {
  readonly span: Span;
  ended: boolean;
}

/** Most middleware spans one request records (memory stays bounded on pathological apps). */
const MAX_MIDDLEWARE_SPANS = 128;

/** The per-request state of one traced Express request. */
export class ExpressRequest {
  private done = false;
  private open: MiddlewareSpan[] | undefined = undefined;
  private spanCount = 0;
  /** The app tracewire() runs in (where routing starts), read at begin: later `req.app` may be a sub-app. */
  private readonly app: unknown;
  /** `req.app` at the last router event (Express 5), to notice entering a sub-app. */
  private lastApp: unknown;

  constructor(
    readonly trace: ServerRequestTrace,
    readonly req: TracedRequest,
    private readonly res: ServerResponse,
    /** Set when `middlewareSpans` is on. */
    private readonly middlewareTracer: Tracer | undefined,
  ) {
    // One read: under Express every `req`/`res` property load misses its inline cache (Express
    // swaps their prototypes per request), so each read saved is measurable.
    const app = req.app;
    this.app = app;
    this.lastApp = app;
  }

  /**
   * The response's `close` listener, bound to this request: a closure per request costs less than
   * finding the state through `res.req` from a shared listener (loads that miss
   * their inline caches under Express, measured with callgrind).
   */
  readonly onClose = (): void => this.finish();

  /**
   * The context to run the rest of the request in: `ctx` with this state. Kept there rather than on
   * `req`, because Express swaps the prototype of every `req` and `res`, and on Node 20 a property
   * added to such an object costs V8 a map migration per request: without this one and the core's
   * on `res`, a traced Node 20 Express request counted ~48k fewer instructions of ~720k (callgrind;
   * docs/performance.md, "Twelfth pass").
   */
  enter(ctx: api.Context): api.Context {
    return ctx.setValue(REQUEST_STATE, this);
  }

  recordError(error: unknown): void {
    // The lifecycle deduplicates by identity: Express hands one error through several handlers.
    this.trace.recordError(error);
  }

  /** The response closed (completed or not): name the route, close middleware spans. Runs before the lifecycle ends the span. */
  finish(): void {
    if (this.done) return;
    this.done = true;
    try {
      const route = this.req.route as ExpressRoute | undefined;
      if (route !== undefined && route !== null && typeof route === 'object' && 'path' in route) {
        const app = this.app;
        if (isExpressApp(app)) {
          // `req.app` now is the innermost app the request reached: climbing from it teaches the
          // resolver the sub-apps behind `app.use(path, subApp)` wrappers.
          const inner = this.req.app;
          if (inner !== app && isExpressApp(inner)) topApp(inner);
          const template = resolveRouteTemplate(topApp(app), route, pathnameOf(this.req));
          if (template !== undefined) this.trace.setRoute(template);
          else
            report(
              'express:route-unresolved',
              '@tracewire/express: could not determine the route template of a matched route; http.route left unset',
              'debug',
            );
        }
      }
    } catch (err) {
      report(
        'express:route',
        `@tracewire/express: could not determine the route template: ${errorMessage(err)}`,
      );
    }
    if (this.open !== undefined) this.endOpen();
  }

  // --- Express 5 `express.router.request` events (see router-channel.ts) -----------------------

  /**
   * Learn the sub-app the request is in: an error that later escapes a sub-app to the parent's
   * error handler is then still named with the sub-app's route (see route-template.ts). Called on
   * every router event subscribed to: `error` always, `start` with middleware spans.
   */
  private noteApp(): void {
    const current = this.req.app;
    if (current !== this.lastApp) {
      this.lastApp = current;
      if (isExpressApp(current)) topApp(current);
    }
  }

  routerStart(msg: RouterChannelMessage): void {
    this.noteApp();
    const tracer = this.middlewareTracer;
    if (tracer === undefined || this.done) return;
    const handler = msg.handler;
    if (typeof handler !== 'function' || isRoutingContainer(handler)) return;
    // Express runs one handler at a time per request: a new one starting means the previous ones
    // handed over (called `next`), whatever they do afterwards.
    if (this.open !== undefined) this.endOpen();
    if (this.spanCount >= MAX_MIDDLEWARE_SPANS) return;
    this.spanCount++;
    const name = handler.name === '' ? '<anonymous>' : handler.name;
    const span = tracer.startSpan(
      name,
      { kind: SpanKind.INTERNAL, attributes: { 'code.function.name': name } },
      this.trace.context,
    );
    const rec: MiddlewareSpan = { span, ended: false };
    msg[MIDDLEWARE_SPAN] = rec;
    (this.open ??= []).push(rec);
  }

  /** The handler returned. A promise settles later (asyncEnd); a sync return ends the span if the response is done. */
  routerEnd(msg: RouterChannelMessage): void {
    const rec = msg[MIDDLEWARE_SPAN];
    if (rec === undefined || rec.ended) return;
    if ('error' in msg && msg.error !== undefined) this.endSpan(rec, msg.error);
    // `result` is set only on a synchronous return; without it a promise is pending.
    else if ('result' in msg && this.res.writableEnded) this.endSpan(rec, undefined);
  }

  routerAsyncEnd(msg: RouterChannelMessage): void {
    const rec = msg[MIDDLEWARE_SPAN];
    if (rec !== undefined && !rec.ended) this.endSpan(rec, msg.error);
  }

  routerError(msg: RouterChannelMessage): void {
    this.noteApp();
    if (msg.error !== undefined) this.recordError(msg.error);
    const rec = msg[MIDDLEWARE_SPAN];
    if (rec !== undefined && !rec.ended) this.endSpan(rec, msg.error);
  }

  private endSpan(rec: MiddlewareSpan, error: unknown): void {
    rec.ended = true;
    if (error !== undefined) {
      rec.span.recordException(error instanceof Error ? error : String(error));
      rec.span.setStatus({ code: SpanStatusCode.ERROR });
    }
    rec.span.end();
  }

  private endOpen(): void {
    const open = this.open as MiddlewareSpan[];
    for (const rec of open) if (!rec.ended) this.endSpan(rec, undefined);
    open.length = 0;
  }
}

/** Routers and sub-apps are containers: their handlers get spans, they do not. */
function isRoutingContainer(fn: object): boolean {
  return (
    Array.isArray((fn as { stack?: unknown }).stack) ||
    isExpressApp(fn) ||
    (fn as { name?: unknown }).name === 'mounted_app'
  );
}

/** `req.originalUrl` (what Express routed) without the query; the absolute form reduced to its path. */
export function pathnameOf(req: TracedRequest): string {
  const raw = typeof req.originalUrl === 'string' ? req.originalUrl : req.url;
  if (typeof raw !== 'string' || raw === '') return '/';
  let url = raw;
  if (url.charCodeAt(0) !== 0x2f /* / */) {
    const scheme = url.indexOf('://');
    if (scheme > 0) {
      const slash = url.indexOf('/', scheme + 3);
      url = slash === -1 ? '/' : url.slice(slash);
    }
  }
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

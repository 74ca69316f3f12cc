import * as api from '@opentelemetry/api';
import { createHttpServerTracing, type ServerRequestTrace } from '@tracewire/core';
import { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type ExpressTracewireOptions, normaliseOptions } from './options.js';
import { errorMessage, report } from '@tracewire/core';
import { ExpressRequest, requestStateOf, type TracedRequest } from './request-state.js';
import { subscribeRouterChannel } from './router-channel.js';
import { PACKAGE_NAME, PACKAGE_VERSION } from './version.js';

// Read once: in the CommonJS build each `api.x` would be a load from the API's exports object,
// which V8 keeps in dictionary mode (see @tracewire/core's src/api.ts).
const { context, trace } = api;

const prependListener = EventEmitter.prototype.prependListener;

/** Express's `next`. Typed structurally so this package needs no Express types at run time or in its `.d.ts`. */
export type NextFunction = (err?: unknown) => void;

/** The middleware `tracewire()` returns: `app.use()` accepts it in Express 4 and 5. */
export type TracewireMiddleware = (req: IncomingMessage, res: ServerResponse, next: NextFunction) => void;

/** The error-recording middleware `recordErrors()` returns (four parameters: Express calls it with errors only). */
export type RecordErrorsMiddleware = (
  err: unknown,
  req: IncomingMessage,
  res: ServerResponse,
  next: NextFunction,
) => void;

/**
 * OpenTelemetry tracing for an Express 4 or 5 app: one SERVER span per request, named
 * `GET /users/:id` from the full route template (mount prefixes included), with the HTTP semantic
 * convention attributes, status and W3C trace-context propagation. Register it first.
 *
 * Spans go to whatever SDK is registered through `@opentelemetry/api`: tracewire's (`start()` from
 * `@tracewire/core`) or the official one. Options are validated here: a bad option throws a
 * `TypeError` naming it.
 *
 * @example
 * ```ts
 * import express from 'express';
 * import { start } from '@tracewire/core';
 * import { tracewire } from '@tracewire/express';
 *
 * start({ serviceName: 'shop' });
 * const app = express();
 * app.use(tracewire({ ignore: ['/healthz'] }));
 * app.get('/users/:id', (req, res) => res.json({ id: req.params.id }));
 * app.listen(3000);
 * ```
 */
export function tracewire(options?: ExpressTracewireOptions): TracewireMiddleware {
  const { lifecycle, middlewareSpans } = normaliseOptions(options);
  // Nothing on `res` (nor `req`, below): Express swaps their prototypes on every request.
  const tracing = createHttpServerTracing(
    lifecycle,
    { name: PACKAGE_NAME, version: PACKAGE_VERSION },
    { traceInContext: true },
  );
  const middlewareTracer = middlewareSpans
    ? (lifecycle.tracerProvider ?? trace.getTracerProvider()).getTracer(PACKAGE_NAME, PACKAGE_VERSION)
    : undefined;
  // Express 5 reports handler errors (and middleware timing) on diagnostics_channel.
  subscribeRouterChannel(middlewareTracer !== undefined);

  return function tracewireMiddleware(req: IncomingMessage, res: ServerResponse, next: NextFunction): void {
    // Already traced by an outer tracewire() (a sub-app or router registering it again): one span per
    // request. (An outer one that does not record made the same decision for this request: `begin`
    // below then returns its trace again.)
    if (requestStateOf(context.active(), req) !== undefined) {
      next();
      return;
    }
    let t: ServerRequestTrace;
    let ctx: api.Context;
    try {
      t = tracing.begin(req, res);
      ctx = t.context;
      if (t.recording) {
        const state = new ExpressRequest(t, req, res, middlewareTracer);
        // In the request's context, not on `req`: Express swaps the prototype of every `req`, and
        // a property added to it after that costs V8 on Node 20 a map migration per request
        // (docs/performance.md, "Twelfth pass").
        ctx = state.enter(ctx);
        // Prepended: it must name the route before the lifecycle's own `close` listener ends the span.
        // Through EventEmitter.prototype: `res.prependListener` is a property load that misses its
        // inline cache on every Express request (the prototype of `res` is swapped per request).
        prependListener.call(res, 'close', state.onClose);
        if (
          middlewareTracer !== undefined &&
          typeof ((req as TracedRequest).app as { lazyrouter?: unknown })?.lazyrouter === 'function'
        ) {
          report(
            'express:middleware-spans-express4',
            '@tracewire/express: middlewareSpans needs Express 5 (router >= 2.3); Express 4 middleware is not timed',
          );
        }
      }
    } catch (err) {
      report('express:begin', `@tracewire/express: could not trace a request: ${errorMessage(err)}`);
      next();
      return;
    }
    // The rest of the request runs in the span's context, so `trace.getActiveSpan()` and any
    // instrumented client used by handlers see it (for ignored requests: the caller's context).
    context.with(ctx, next);
  };
}

/**
 * Record the error an Express error handler is about to handle on the request's server span
 * (an exception event with type, message and stack), then pass it on unchanged. Register it after
 * your routes and before your own error handlers.
 *
 * Express 5 (router >= 2.3) reports handler errors to tracewire by itself, so this is only needed
 * on Express 4, which offers no way to see them without patching it. Using it on Express 5 is
 * harmless (each error is recorded once).
 *
 * @example
 * ```ts
 * app.use(tracewire());
 * app.get('/orders/:id', loadOrder);
 * app.use(recordErrors());
 * app.use((err, req, res, next) => res.status(500).json({ error: 'internal' }));
 * ```
 */
export function recordErrors(): RecordErrorsMiddleware {
  return function tracewireRecordErrors(
    err: unknown,
    req: IncomingMessage,
    _res: ServerResponse,
    next: NextFunction,
  ) {
    try {
      requestStateOf(context.active(), req)?.recordError(err);
    } catch (e) {
      report('express:recordErrors', `@tracewire/express: could not record an error: ${errorMessage(e)}`);
    }
    next(err);
  };
}

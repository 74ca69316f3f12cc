/**
 * Nest enrichment of the server span: which controller and handler served the request (the guard),
 * and, for applications that add it themselves, the interceptor that records exceptions on their
 * way out of the handler. The span itself, its route, status and timing come from the Express or
 * Fastify adapter underneath; exceptions are recorded by the exception observer (exceptions.ts).
 */
import type { Span } from '@opentelemetry/api';
import * as api from '@opentelemetry/api';
import type { ServerRequestTrace } from '@tracewire/core';
import type { CallHandler, CanActivate, ExecutionContext, NestInterceptor } from '@nestjs/common';
import { Observable } from 'rxjs';
import { REQUEST_TRACE } from './setup.js';

// Read once: in the CommonJS build each `api.x` would be a load from the API's exports object,
// which V8 keeps in dictionary mode (see @tracewire/core's src/api.ts).
const { context, diag, trace } = api;

/**
 * `nestjs.controller`: the controller class name (`UsersController`), set on the server span.
 * @example span.attributes[ATTR_NESTJS_CONTROLLER] // 'UsersController'
 */
export const ATTR_NESTJS_CONTROLLER = 'nestjs.controller';
/**
 * `nestjs.handler`: the handler method name (`findOne`), set on the server span.
 * @example span.attributes[ATTR_NESTJS_HANDLER] // 'findOne'
 */
export const ATTR_NESTJS_HANDLER = 'nestjs.handler';

/**
 * The context key under which `@tracewire/express` keeps a request's state (a registered symbol,
 * shared by its CJS and ESM builds); the handler runs in that context.
 */
const EXPRESS_STATE = Symbol.for('tracewire.express.request');

type WithTrace = {
  [REQUEST_TRACE]?: ServerRequestTrace;
  raw?: { [REQUEST_TRACE]?: ServerRequestTrace };
};

/**
 * The request's trace: on Fastify's `request.raw`, or in `@tracewire/express`'s state in the active
 * context (checked to be this request's).
 */
function requestTrace(req: unknown): ServerRequestTrace | undefined {
  if (typeof req !== 'object' || req === null) return undefined;
  const r = req as WithTrace;
  const own = r[REQUEST_TRACE] ?? r.raw?.[REQUEST_TRACE];
  if (own !== undefined) return own;
  const state = context.active().getValue(EXPRESS_STATE) as
    | { req?: unknown; trace?: ServerRequestTrace }
    | undefined;
  return state !== undefined && state.req === req ? state.trace : undefined;
}

interface Names {
  readonly controller: string | undefined;
  readonly handler: string | undefined;
}

/**
 * The names of a controller class and a handler, by class and then handler (a handler inherited by
 * two controllers is one function). Reading a function's `name` is a call into V8's runtime, about
 * 0.5k machine instructions each (callgrind, Node 24): once per route instead of twice per request.
 */
const namesByClass = new WeakMap<object, WeakMap<object, Names>>();

function nameOf(f: unknown): string | undefined {
  return typeof f === 'function' && typeof f.name === 'string' && f.name !== '' ? f.name : undefined;
}

function namesOf(cls: unknown, handler: unknown): Names {
  if (typeof cls !== 'function' || typeof handler !== 'function')
    return { controller: nameOf(cls), handler: nameOf(handler) };
  let byHandler = namesByClass.get(cls);
  if (byHandler === undefined) {
    byHandler = new WeakMap();
    namesByClass.set(cls, byHandler);
  }
  let names = byHandler.get(handler);
  if (names === undefined) {
    names = { controller: nameOf(cls), handler: nameOf(handler) };
    byHandler.set(handler, names);
  }
  return names;
}

/** Sets `nestjs.controller` / `nestjs.handler`; returns the span when it is recording. */
function enrich(ctx: ExecutionContext): { span: Span; trace: ServerRequestTrace | undefined } | undefined {
  try {
    const t = requestTrace(ctx.switchToHttp().getRequest());
    const span = t !== undefined ? t.span : trace.getSpan(context.active());
    if (!span?.isRecording()) return undefined;
    const names = namesOf(ctx.getClass(), ctx.getHandler());
    if (names.controller !== undefined) span.setAttribute(ATTR_NESTJS_CONTROLLER, names.controller);
    if (names.handler !== undefined) span.setAttribute(ATTR_NESTJS_HANDLER, names.handler);
    return { span, trace: t };
  } catch (err) {
    diag.warn(
      `tracewire: could not enrich the server span: ${err instanceof Error ? err.message : String(err)}`,
    );
    return undefined;
  }
}

/**
 * The global guard `TracewireModule` installs: it names the controller and handler on the span
 * (Nest's guards cost far less than its interceptor chain) and always lets the request through.
 * Non-HTTP contexts are not looked at.
 * @example
 * ```ts
 * // what TracewireModule.forRoot() registers for you:
 * { provide: APP_GUARD, useFactory: () => new TracewireGuard() }
 * ```
 */
export class TracewireGuard implements CanActivate {
  canActivate(ctx: ExecutionContext): boolean {
    if (ctx.getType() === 'http') enrich(ctx);
    return true;
  }
}

/**
 * An interceptor that records the exceptions leaving the handler, its pipes and the interceptors
 * inside it, and names the controller and handler. `TracewireModule` does not install it: its
 * exception filter records those exceptions too, at no cost per request. Add it yourself only to
 * also record exceptions that a controller- or method-level `@UseFilters()` filter answers (Nest
 * tries those before any global filter). It costs what any interceptor costs: Nest then runs every
 * request through its RxJS interceptor chain (docs/nestjs.md). Non-HTTP contexts (microservices,
 * WebSockets, GraphQL resolvers) pass through untouched: `next.handle()` is returned as it is. An
 * exception both it and the filter see is recorded once.
 * @example
 * ```ts
 * const app = await NestFactory.create(AppModule);
 * app.useGlobalInterceptors(new TracewireInterceptor());
 * ```
 */
export class TracewireInterceptor implements NestInterceptor {
  intercept(ctx: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (ctx.getType() !== 'http') return next.handle();
    const enriched = enrich(ctx);
    if (enriched === undefined) return next.handle();
    const trace_ = enriched.trace;
    const recording = enriched.span;
    const source = next.handle();
    // An exception from a pipe, a later interceptor or the handler passes through here on its way to
    // Nest's exception filters: record it on the server span (the status code is what the filter
    // then sends: 4xx leaves the span status unset, 5xx sets ERROR; semconv HTTP spans "Status").
    return new Observable<unknown>((subscriber) =>
      source.subscribe({
        next: (v) => subscriber.next(v),
        error: (err: unknown) => {
          try {
            if (trace_ !== undefined) trace_.recordError(err);
            else recording.recordException(err instanceof Error ? err : String(err));
          } catch {
            // never let telemetry change the error the application sees
          }
          subscriber.error(err);
        },
        complete: () => subscriber.complete(),
      }),
    );
  }
}

/**
 * Puts tracewire at the front of the HTTP adapter Nest created, before Nest registers its body
 * parsers, middleware and routes. Runs while `NestFactory.create()` instantiates providers: Nest has
 * created the adapter (and the Express or Fastify instance) by then, and nothing of the request
 * pipeline has been registered on Express yet.
 */
import * as api from '@opentelemetry/api';
import {
  createHttpServerTracing,
  type HttpServerTracingOptions,
  type ServerRequestTrace,
} from '@tracewire/core';
import { tracewire as expressTracewire } from '@tracewire/express';
import {
  SCOPE_NAME as FASTIFY_SCOPE,
  VERSION as FASTIFY_VERSION,
  tracewire as fastifyTracewire,
} from '@tracewire/fastify';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { markUnmatched } from './exceptions.js';
import { lifecycleOptions, type TracewireNestOptions } from './options.js';

// Read once: in the CommonJS build each `api.x` would be a load from the API's exports object,
// which V8 keeps in dictionary mode (see @tracewire/core's src/api.ts).
const { context, diag } = api;

/** Shared with `@tracewire/fastify` (see its `REQUEST_TRACE`): the raw request's trace. */
export const REQUEST_TRACE = Symbol.for('tracewire.requestTrace');
/** Marks an adapter instance tracewire was applied to (a second TracewireModule must not double the spans). */
const APPLIED = Symbol.for('tracewire.nestjs.applied');

/** The part of Nest's `AbstractHttpAdapter` we use (stable across Nest 10, 11 and 12). */
export interface HttpAdapterLike {
  getType(): string;
  getInstance(): unknown;
  getHttpServer(): unknown;
  use?(...args: unknown[]): unknown;
}

type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;
type Traced = IncomingMessage & { [REQUEST_TRACE]?: ServerRequestTrace };

/** What the setup provider resolves to (kept for diagnostics and tests). */
export interface TracewireSetup {
  /** `express`, `fastify`, or `none` for an application without an HTTP adapter (microservice, standalone context). */
  readonly platform: string;
}

/**
 * Applies tracing to the application's HTTP adapter (internal: called by the setup provider).
 * @example applyTracewire({}, httpAdapterHost.httpAdapter) // { platform: 'express' }
 */
export function applyTracewire(
  nestOptions: TracewireNestOptions,
  adapter: HttpAdapterLike | undefined,
): TracewireSetup {
  const options = lifecycleOptions(nestOptions);
  if (adapter === undefined || adapter === null) return { platform: 'none' };
  const type = adapter.getType();
  const marker = adapter as unknown as Record<symbol, unknown>;
  if (marker[APPLIED] === true) {
    diag.warn('tracewire: TracewireModule is configured twice on one application; the second one is ignored');
    return { platform: type };
  }
  marker[APPLIED] = true;

  if (type === 'express') {
    // The first middleware of the Express app: Nest adds its body parsers and middleware later, in `app.init()`.
    const app = adapter.getInstance() as { use(fn: unknown): unknown };
    app.use(expressTracewire(options));
    markNotFound(adapter, true);
    return { platform: type };
  }
  if (type === 'fastify') {
    applyFastify(options, adapter);
    markNotFound(adapter, false);
    return { platform: type };
  }
  diag.warn(
    `tracewire: the "${type}" HTTP adapter is not supported (express and fastify are); requests are not traced`,
  );
  return { platform: type };
}

type NotFoundSetter = (handler: (req: unknown, ...rest: unknown[]) => unknown, ...rest: unknown[]) => unknown;

/**
 * Nest answers unmatched requests with a handler it registers through the adapter's
 * `setNotFoundHandler`. Its `NotFoundException` is how Nest answers, not an error of the
 * application, so the exception observer is told not to record it. On Express (Nest 12 mounts the
 * handler as a `*path` route under the global prefix) that catch-all is also not a route of the
 * application: semconv wants no `http.route` and the name `GET` for a request no route matched, so
 * the handler forgets the route Express matched before Nest's handler runs. Wrapped on this adapter
 * instance only, through its public method.
 */
function markNotFound(adapter: HttpAdapterLike, forgetRoute: boolean): void {
  const a = adapter as unknown as { setNotFoundHandler?: NotFoundSetter };
  const original = a.setNotFoundHandler;
  if (typeof original !== 'function') return;
  a.setNotFoundHandler = function tracewireSetNotFoundHandler(this: unknown, handler, ...rest) {
    if (typeof handler !== 'function') return original.call(this, handler, ...rest);
    const wrapped = function tracewireNotFound(this: unknown, req: unknown, ...args: unknown[]) {
      markUnmatched();
      if (forgetRoute && typeof req === 'object' && req !== null && 'route' in req)
        (req as { route?: unknown }).route = undefined;
      return handler.call(this, req, ...args);
    };
    return original.call(this, wrapped, ...rest);
  };
}

/**
 * Nest registers @fastify/middie (which runs Nest middleware in an `onRequest` hook) before any
 * provider exists, so a Fastify hook of ours would run after Nest middleware. The request is
 * therefore begun where Node hands it to Fastify, the server's `request` listener, and Fastify runs
 * inside its context; `@tracewire/fastify` adopts that trace (no second span) and adds the route and
 * errors Fastify knows.
 */
function applyFastify(options: HttpServerTracingOptions, adapter: HttpAdapterLike): void {
  const instance = adapter.getInstance();
  const server = adapter.getHttpServer() as Server | undefined;
  // The same scope as the plugin's own spans: a request span on Fastify looks the same with or without Nest.
  // The trace is kept in the request's context, where the exception observer finds it.
  const tracing = createHttpServerTracing(
    options,
    { name: FASTIFY_SCOPE, version: FASTIFY_VERSION },
    { traceInContext: true },
  );
  if (server !== undefined && typeof server.listeners === 'function') {
    const listeners = server.listeners('request') as RequestListener[];
    for (const listener of listeners) {
      server.removeListener('request', listener);
      server.on(
        'request',
        function tracewireNestRequest(this: Server, req: IncomingMessage, res: ServerResponse) {
          const traced = req as Traced;
          if (traced[REQUEST_TRACE] !== undefined) return listener.call(this, req, res);
          const t = tracing.begin(req, res);
          traced[REQUEST_TRACE] = t;
          context.with(t.context, listener, this, req, res);
        },
      );
    }
  }
  // Calling the plugin on the root instance is what `register()` does for a skip-override plugin;
  // done directly so its hooks exist before Nest adds its routes.
  (fastifyTracewire as unknown as (i: unknown, o: unknown, d: (e?: Error) => void) => void)(
    instance,
    options,
    (err) => {
      if (err) throw err;
    },
  );
}

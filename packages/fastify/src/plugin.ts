/**
 * The Fastify plugin: maps Fastify's request lifecycle onto `@tracewire/core`'s HTTP server
 * lifecycle. It knows nothing about semantic conventions, propagation or export: the core decides
 * names, attributes and status from the four things we tell it (began, route, error, finished).
 */
import type { Context, Span } from '@opentelemetry/api';
import * as api from '@opentelemetry/api';
import {
  createHttpServerTracing,
  type HttpServerTracingOptions,
  type IgnoreMatcher,
  type ServerRequestTrace,
} from '@tracewire/core';
import type {
  FastifyError,
  FastifyInstance,
  FastifyPluginCallback,
  FastifyReply,
  FastifyRequest,
  HookHandlerDoneFunction,
} from 'fastify';
import type { IncomingMessage } from 'node:http';

// Read once: in the CommonJS build each `api.x` would be a load from the API's exports object,
// which V8 keeps in dictionary mode (see @tracewire/core's src/api.ts).
const { context, diag, INVALID_SPAN_CONTEXT, trace } = api;

/**
 * The package version, reported as the instrumentation scope version. Kept equal to package.json by a test.
 * @example console.log(`@tracewire/fastify ${VERSION}`);
 */
export const VERSION = '0.1.0';
/**
 * The instrumentation scope name of every span this plugin starts.
 * @example spans.filter((s) => s.instrumentationScope.name === SCOPE_NAME)
 */
export const SCOPE_NAME = '@tracewire/fastify';

/**
 * Options of the Fastify plugin: everything the core HTTP server lifecycle offers, unchanged.
 * Invalid options reject `app.register()` with a `TypeError` naming the option.
 * @example
 * ```ts
 * await app.register(tracewire, { ignore: ['/healthz'], captureHeaders: { response: ['x-request-id'] } });
 * ```
 */
export interface TracewireFastifyOptions extends HttpServerTracingOptions {}

/** What `request.tracewire` gives: the request's server span and the context it runs in. */
export interface TracewireRequestContext {
  /** The SERVER span of this request (non-recording when the request is ignored, opted out or not sampled). */
  readonly span: Span;
  /** The context the request runs in; pass it to `context.with()` to parent work started outside the request. */
  readonly context: Context;
}

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * The tracewire server span of this request and its context.
     * @example
     * ```ts
     * app.get('/users/:id', async (request) => {
     *   request.tracewire.span.setAttribute('app.user_id', request.params.id);
     * });
     * ```
     */
    readonly tracewire: TracewireRequestContext;
  }
  interface FastifyContextConfig {
    /** `false` leaves requests to this route untraced (no span; an incoming trace still continues). Default: traced. */
    tracewire?: boolean;
  }
}

/** The request's trace, private to this plugin (Fastify plugin hygiene: state on Symbols). */
const kTrace = Symbol('tracewire.fastify.trace');
/** Marks a raw request whose route opted out, read by the `ignore` predicate we add to the core's. */
const kOptOut = Symbol('tracewire.fastify.optOut');
/**
 * Where the raw request carries its trace, shared by every tracewire layer in the process (hence
 * `Symbol.for`): a layer that began the request earlier (e.g. `@tracewire/nestjs` at the HTTP
 * server) leaves it here and this plugin adopts it instead of starting a second SERVER span; other
 * layers (Nest's interceptor) read it to record errors on the right span.
 */
export const REQUEST_TRACE = Symbol.for('tracewire.requestTrace');
/** Marks an instance tracewire was registered on, so a second registration cannot create duplicate spans. */
const kRegistered = Symbol.for('tracewire.fastify.registered');

type TracedRequest = FastifyRequest & { [kTrace]: ServerRequestTrace | null };
type MarkedRaw = IncomingMessage & { [kOptOut]?: true; [REQUEST_TRACE]?: ServerRequestTrace };

/** What `request.tracewire` answers before our `onRequest` hook ran (or when registered in a sibling scope). */
const UNTRACED: TracewireRequestContext = Object.freeze({
  span: trace.wrapSpanContext(INVALID_SPAN_CONTEXT),
  get context() {
    return context.active();
  },
});

const OPTION_KEYS = [
  'ignore',
  'requestHook',
  'responseHook',
  'spanName',
  'captureHeaders',
  'redactQueryKeys',
  'tracerProvider',
] as const satisfies ReadonlyArray<keyof HttpServerTracingOptions>;

function isOptedOut(req: IncomingMessage): boolean {
  return (req as MarkedRaw)[kOptOut] === true;
}

/**
 * Picks the lifecycle options out of what Fastify passes a plugin (which also carries Fastify's own
 * `prefix`, `logLevel`, ... keys) and adds the per-route opt-out to `ignore`, so an opted-out route
 * behaves exactly like an ignored path: no span, incoming trace context continued.
 */
function lifecycleOptions(opts: unknown): HttpServerTracingOptions {
  if (opts === undefined || opts === null) return { ignore: isOptedOut };
  if (typeof opts !== 'object' || Array.isArray(opts)) {
    throw new TypeError(
      `tracewire: @tracewire/fastify options must be an object, got ${Array.isArray(opts) ? 'an array' : typeof opts}`,
    );
  }
  const src = opts as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const key of OPTION_KEYS) if (src[key] !== undefined) out[key] = src[key];
  // The core validates the combined list; a bad entry is still a TypeError naming "ignore".
  const ignore = src.ignore as IgnoreMatcher | readonly IgnoreMatcher[] | undefined;
  out.ignore =
    ignore === undefined ? isOptedOut : [...(Array.isArray(ignore) ? ignore : [ignore]), isOptedOut];
  return out as HttpServerTracingOptions;
}

/**
 * The Fastify plugin. Register it once, on the root instance, before your routes: every route
 * gets one SERVER span named `GET /users/:id` (with register prefixes), from `onRequest` until the
 * response is sent, and your hooks and handlers run inside it.
 *
 * It is `skip-override` (like plugins wrapped in `fastify-plugin`), so its hooks apply to the
 * instance it is registered on and every child. Registered inside an encapsulated plugin, it
 * traces only that plugin's routes.
 *
 * @example
 * ```ts
 * import Fastify from 'fastify';
 * import { tracewire } from '@tracewire/fastify';
 *
 * const app = Fastify();
 * await app.register(tracewire, { ignore: ['/healthz'] });
 * app.get('/users/:id', async (request) => ({ id: request.params.id }));
 * ```
 */
export const tracewire: FastifyPluginCallback<TracewireFastifyOptions> = function tracewire(
  instance: FastifyInstance,
  opts: TracewireFastifyOptions,
  done: (err?: Error) => void,
): void {
  let tracing: ReturnType<typeof createHttpServerTracing>;
  try {
    // Options are validated and normalised once, here: a bad option rejects `register()` with a TypeError.
    tracing = createHttpServerTracing(lifecycleOptions(opts), { name: SCOPE_NAME, version: VERSION });
  } catch (err) {
    done(err as Error);
    return;
  }

  const holder = instance as unknown as Record<symbol, unknown>;
  if (holder[kRegistered] === true) {
    // Registering twice on one instance (or on a child of a traced instance) would start two SERVER
    // spans per request. Telemetry never breaks the app: warn and keep the first registration.
    diag.warn(
      'tracewire: @tracewire/fastify is already registered on this Fastify instance; ignoring the second registration',
    );
    done();
    return;
  }
  instance.decorate(kRegistered as unknown as string, true);

  // Declared up front so every request object has the same shape (Fastify's advice for decorators).
  instance.decorateRequest(kTrace as unknown as string, null);
  if (!instance.hasRequestDecorator('tracewire')) {
    instance.decorateRequest('tracewire', {
      getter(this: FastifyRequest): TracewireRequestContext {
        return (this as TracedRequest)[kTrace] ?? UNTRACED;
      },
    });
  }

  instance.addHook(
    'onRequest',
    function tracewireOnRequest(
      request: FastifyRequest,
      reply: FastifyReply,
      hookDone: HookHandlerDoneFunction,
    ): void {
      let t: ServerRequestTrace;
      try {
        const raw = request.raw as MarkedRaw;
        const adopted = raw[REQUEST_TRACE];
        if (adopted !== undefined) {
          // Begun earlier by another tracewire layer, already running in its context: only add what Fastify knows.
          const url = request.routeOptions?.url;
          if (typeof url === 'string') adopted.setRoute(url);
          (request as TracedRequest)[kTrace] = adopted;
          hookDone();
          return;
        }
        // The routing decision is made before `onRequest`, so the per-route opt-out is known here and
        // no span is ever started for an opted-out route (nothing to orphan).
        const routeOptions = request.routeOptions;
        if (routeOptions?.config?.tracewire === false) raw[kOptOut] = true;
        t = tracing.begin(raw, reply.raw);
        raw[REQUEST_TRACE] = t;
        // `routeOptions.url` is the full template including register prefixes (`/api/users/:id`);
        // it is undefined for the default not-found handler, so a 404 is named `GET` (SPEC.md section 3).
        const url = routeOptions?.url;
        if (typeof url === 'string') t.setRoute(url);
        (request as TracedRequest)[kTrace] = t;
      } catch {
        // The core never throws from begin(); this only guards a Fastify we do not know. Serve untraced.
        hookDone();
        return;
      }
      // Everything after this hook (other hooks, body parsing, validation, the handler, onSend) is
      // called from `hookDone`, synchronously or through promises created inside it, so it all runs
      // in the request's context: user spans become children of the server span.
      context.with(t.context, hookDone);
    },
  );

  const responseHeaders = capturedResponseHeaders(opts);
  if (responseHeaders !== undefined) {
    // Fastify keeps reply headers on the reply and hands them to `writeHead` at once, so the core
    // cannot read them back from the Node response: the listed ones are copied here, when final.
    instance.addHook(
      'onSend',
      function tracewireOnSend(
        request: FastifyRequest,
        reply: FastifyReply,
        payload: unknown,
        hookDone: (err: Error | null, payload?: unknown) => void,
      ): void {
        const t = (request as TracedRequest)[kTrace];
        if (t?.recording) {
          try {
            for (const [header, key] of responseHeaders) {
              const values = headerValues(reply.getHeader(header));
              if (values !== undefined) t.span.setAttribute(key, values);
            }
          } catch (err) {
            diag.warn(
              `tracewire: could not capture response headers: ${err instanceof Error ? err.message : String(err)}`,
            );
          }
        }
        hookDone(null, payload);
      },
    );
  }

  instance.addHook(
    'onError',
    function tracewireOnError(
      request: FastifyRequest,
      _reply: FastifyReply,
      error: FastifyError,
      hookDone: HookHandlerDoneFunction,
    ): void {
      const t = (request as TracedRequest)[kTrace];
      if (t !== null && t !== undefined) t.recordError(error);
      hookDone();
    },
  );

  done();
};

/** Never recorded, even when listed (DESIGN.md: no secrets by default); the core warns about them. */
const SECRET_HEADERS = new Set(['authorization', 'cookie', 'set-cookie', 'proxy-authorization']);

/** `[header, attribute key]` for `captureHeaders.response` (already validated by the core). */
function capturedResponseHeaders(opts: unknown): Array<readonly [string, string]> | undefined {
  const list = (opts as { captureHeaders?: { response?: unknown } } | undefined)?.captureHeaders?.response;
  if (!Array.isArray(list)) return undefined;
  const out: Array<readonly [string, string]> = [];
  for (const h of list) {
    const name = String(h).toLowerCase();
    if (!SECRET_HEADERS.has(name) && !out.some(([n]) => n === name)) {
      out.push([name, `http.response.header.${name}`]);
    }
  }
  return out.length > 0 ? out : undefined;
}

/** semconv: header attributes are string arrays, one element per value. */
function headerValues(v: unknown): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (Array.isArray(v)) return v.map(String);
  return [String(v)];
}

// What `fastify-plugin` would set, written out so the package has no runtime dependency
// (Fastify reads these in `lib/pluginUtils.js` and `lib/pluginOverride.js`):
// - skip-override: do not create an encapsulated child, so the hooks apply to the registering instance;
// - display-name: the name in Fastify's plugin tree and errors;
// - plugin-meta: Fastify checks `fastify` against its own version and refuses to load on a mismatch.
Object.defineProperties(tracewire, {
  [Symbol.for('skip-override')]: { value: true },
  [Symbol.for('fastify.display-name')]: { value: SCOPE_NAME },
  [Symbol.for('plugin-meta')]: { value: Object.freeze({ fastify: '4.x || 5.x', name: SCOPE_NAME }) },
});

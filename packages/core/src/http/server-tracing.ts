/**
 * The framework-neutral HTTP server lifecycle: the one place that knows the HTTP semantic
 * conventions (semantic-conventions `docs/http/http-spans.md`, stable; SPEC.md section 3).
 * Adapters call `begin` in their first middleware, `setRoute` once the framework matched a route,
 * `recordError` when they see an exception, and run the rest of the request in `trace.context`.
 *
 * It uses only `@opentelemetry/api`, so it works with tracewire's SDK and with the official one.
 */
import type {
  Attributes,
  Context,
  Span,
  SpanOptions,
  TextMapGetter,
  Tracer,
  TracerProvider,
} from '@opentelemetry/api';
import {
  context as contextApi,
  INVALID_SPAN_CONTEXT,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
} from '../api.js';
import { EventEmitter } from 'node:events';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { EMPTY_CONTEXT } from '../sdk/fast-context.js';
import { handoff, START_SPAN_LAZY } from '../sdk/handoff.js';
import { fenced, report } from '../sdk/report.js';
import {
  captureRawHeaders,
  knownMethodsFromEnv,
  TOKEN,
  DEFAULT_REDACTED_QUERY_KEYS,
  defaultPort,
  firstListItem,
  type HostPort,
  headerString,
  NEVER_CAPTURED_HEADERS,
  parseClientAddress,
  parseForwarded,
  parseHostPort,
  parseScheme,
  redactQuery,
  responseHeaderValues,
} from './request-attributes.js';
import type {
  HttpServerTracing,
  HttpServerTracingOptions,
  IgnoreMatcher,
  ServerRequestTrace,
} from './types.js';

/**
 * `error.type` when the connection closed before the response was complete and no exception
 * explains it (a client abort, a socket error, `res.destroy()`). Low cardinality by design.
 */
export const ERROR_TYPE_ABORTED = 'aborted';
/** `error.type` for a thrown value that is not an Error (a string, a number, a plain object): semconv's fallback. */
export const ERROR_TYPE_OTHER = '_OTHER';

/** The environment variable that replaces the list of known methods (semconv `http.request.method`). */
export { KNOWN_METHODS_ENV } from './request-attributes.js';

// Attribute names (semantic-conventions `docs/http/http-spans.md`, stable).
const ATTR_METHOD = 'http.request.method';
const ATTR_METHOD_ORIGINAL = 'http.request.method_original';
const ATTR_ROUTE = 'http.route';
const ATTR_STATUS = 'http.response.status_code';
const ATTR_ERROR_TYPE = 'error.type';

/**
 * Where a request's trace is found by a second `begin` for the same response (a mounted sub-app's
 * middleware, a second adapter): `res[TRACE]`, or with `traceInContext` the request's context under
 * the same key. A registered symbol: the CJS and ESM builds of this package may both be loaded
 * (dual package hazard) and must still agree.
 */
const TRACE = Symbol.for('tracewire.http.requestTrace');
type TracedResponse = ServerResponse & { [TRACE]?: RequestTrace };

/** Reads Node's lowercased header object; arrays pass through so propagators can reject repeated headers (W3C). */
const headerGetter: TextMapGetter<IncomingHttpHeaders> = {
  keys(carrier) {
    return carrier ? Object.keys(carrier) : [];
  },
  get(carrier, key) {
    if (!carrier) return undefined;
    // The propagators' own headers are read by name: one load site per header, each seeing one
    // name, where `carrier[key]` is a single keyed load shared by every name (megamorphic).
    const v =
      key === 'traceparent'
        ? carrier.traceparent
        : key === 'tracestate'
          ? carrier.tracestate
          : key === 'baggage'
            ? carrier.baggage
            : carrier[key];
    return typeof v === 'string' || Array.isArray(v) ? v : undefined;
  },
};

/** What `begin` needs, computed once at creation (STYLE.md 4: nothing per request that could be computed once). */
interface Config {
  readonly tracer: Tracer;
  readonly knownMethods: ReadonlySet<string>;
  readonly ignore: ((req: IncomingMessage, path: string) => boolean) | undefined;
  readonly requestHook: HttpServerTracingOptions['requestHook'];
  readonly responseHook: HttpServerTracingOptions['responseHook'];
  readonly spanName: HttpServerTracingOptions['spanName'];
  /** lowercased header name → attribute key */
  readonly requestHeaders: ReadonlyMap<string, string> | undefined;
  /** [lowercased header name, attribute key] */
  readonly responseHeaders: ReadonlyArray<readonly [string, string]> | undefined;
  readonly redactKeys: ReadonlySet<string>;
  readonly scope: { readonly name: string; readonly version: string | undefined };
  /** The tracer came from the global provider (no `tracerProvider` option). */
  readonly fromGlobal: boolean;
  /** tracewire's tracer once found (see {@link lazyTracer}). */
  lazy: LazyTracer | undefined;
  /** The global provider last looked at by {@link lazyTracer}. */
  checkedProvider: unknown;
  /** The last span name built from a route (see {@link routeName}). */
  lastName: { readonly base: string; readonly route: string; readonly name: string };
  /** The request's trace is kept in its context, not on `res` (see {@link createHttpServerTracing}). */
  readonly traceInContext: boolean;
}

/**
 * Create the HTTP server lifecycle for one adapter instance. Options are validated and normalised
 * here, once: a bad option is a `TypeError` naming it.
 *
 * @param options what every adapter exposes to its users (see {@link HttpServerTracingOptions})
 * @param scope the instrumentation scope the spans are reported under (the adapter's package name and version)
 * @param how `traceInContext: true` keeps each request's trace in its context instead of on `res`,
 *   for frameworks that swap the prototype of `res` on every request (Express): on Node 20, a
 *   property added to such an object costs V8 a map migration per request (docs/performance.md,
 *   "Twelfth pass"). A second `begin` for the same response then finds the running trace only when
 *   made inside its context. Elsewhere the property is cheaper than a context entry.
 * @example
 * ```ts
 * import { createServer } from 'node:http';
 * import { context } from '@opentelemetry/api';
 * import { createHttpServerTracing } from '@tracewire/core';
 *
 * const tracing = createHttpServerTracing({ ignore: ['/healthz'] }, { name: 'my-server', version: '1.0.0' });
 * createServer((req, res) => {
 *   const t = tracing.begin(req, res);
 *   context.with(t.context, () => {
 *     t.setRoute('/users/:id');
 *     res.end('ok');
 *   });
 * }).listen(3000);
 * ```
 */
export function createHttpServerTracing(
  options: HttpServerTracingOptions | undefined,
  scope: { name: string; version?: string },
  how?: { traceInContext?: boolean },
): HttpServerTracing {
  const cfg = normaliseOptions(options, scope, how?.traceInContext === true);
  return {
    begin(req, res, startTime) {
      return begin(cfg, req, res, startTime);
    },
  };
}

/**
 * The trace of the request that context `ctx` belongs to, for a lifecycle created with
 * `traceInContext: true` (the context of its request or any context derived from it, such as a child
 * span's); `undefined` otherwise. For code that sees an exception but not the request it belongs to,
 * such as `@tracewire/nestjs`'s exception observer.
 * @example
 * ```ts
 * requestTraceOf(context.active())?.recordError(err);
 * ```
 */
export function requestTraceOf(ctx: Context): ServerRequestTrace | undefined {
  const t = ctx.getValue(TRACE) as Partial<ServerRequestTrace> | undefined;
  // Duck-typed: the trace may come from the other (CJS/ESM) build of this package.
  return typeof t?.recordError === 'function' ? (t as ServerRequestTrace) : undefined;
}

function begin(
  cfg: Config,
  req: IncomingMessage,
  res: ServerResponse,
  startTime?: number,
): ServerRequestTrace {
  // One request, one span: a second `begin` on the same response (a mounted sub-app with its own
  // middleware, two adapters) gets the trace that is already running.
  // The trace of this same response (possibly made by the other build of this package).
  let active = contextApi.active();
  const running = cfg.traceInContext
    ? (active.getValue(TRACE) as RequestTrace | undefined)
    : (res as TracedResponse | undefined)?.[TRACE];
  if (running !== undefined && running.res === res) return running;
  // The empty context with a cheap setValue (fast-context.ts): the span, and whatever extract
  // adds, then cost one small object each instead of a copy of a Map each.
  if (active === ROOT_CONTEXT) active = EMPTY_CONTEXT;
  let parent: Context;
  try {
    parent = propagation.extract(active, req?.headers, headerGetter);
  } catch (err) {
    // A propagator must never throw (OTel spec, "Propagators API"); if one does, start a new trace.
    report('http:extract', `propagation.extract threw and was ignored: ${message(err)}`);
    parent = active;
  }
  try {
    const target = requestTarget(req);
    const q = target.indexOf('?');
    const path = q === -1 ? target : target.slice(0, q);
    if (cfg.ignore?.(req, path)) return ignored(parent);

    const rawMethod = typeof req.method === 'string' ? req.method : '';
    const method = cfg.knownMethods.has(rawMethod) ? rawMethod : '_OTHER';
    const name = method === '_OTHER' ? 'HTTP' : method;
    const query = q === -1 ? undefined : target.slice(q + 1);
    let span: Span;
    const lazy = lazyTracer(cfg);
    if (lazy !== undefined) {
      // tracewire's tracer: attributes are built only for a span that records (or for a sampler
      // that reads them), so an unsampled request costs no attribute work. It only reads the
      // options: one shared object unless a start time is given.
      scratch.cfg = cfg;
      scratch.req = req;
      scratch.path = path;
      scratch.query = query;
      scratch.rawMethod = rawMethod;
      scratch.method = method;
      const options = startTime === undefined ? SERVER_OPTIONS : { kind: SpanKind.SERVER, startTime };
      try {
        // Without captured headers (arrays) every start attribute is a string or a number: the
        // span may keep the object without checking it (handoff.ts, `typed`).
        span = lazy[START_SPAN_LAZY](
          name,
          options,
          parent,
          buildStartAttributes,
          scratch,
          cfg.requestHeaders === undefined,
        );
      } finally {
        scratch.cfg = undefined;
        scratch.req = undefined;
      }
    } else {
      const attributes = startAttributes(cfg, req, path, query, rawMethod, method);
      const options: SpanOptions =
        startTime === undefined
          ? { kind: SpanKind.SERVER, attributes }
          : { kind: SpanKind.SERVER, startTime, attributes };
      // The attributes object is ours alone: tracewire's span may keep it rather than copy it
      // (handoff.ts). Withdrawn right after, whichever SDK is behind the API.
      handoff.attributes = attributes;
      try {
        span = cfg.tracer.startSpan(name, options, parent);
      } finally {
        handoff.attributes = undefined;
      }
    }
    const t = new RequestTrace(cfg, span, trace.setSpan(parent, span), req, res, name);
    if (cfg.traceInContext) t.context = t.context.setValue(TRACE, t);
    else (res as TracedResponse)[TRACE] = t;
    if (!t.recording) return t;
    // `close` is emitted both after a completed response (`writableFinished` true) and when the
    // connection goes away first (an abort). The listener is the trace's own bound method: looking
    // the trace up on `res` from a shared listener is a megamorphic load, and Express (which swaps
    // the prototype of every `res`) makes each one a full inline-cache miss (~3,000 instructions,
    // measured with callgrind), far more than one small closure. Added through
    // EventEmitter.prototype for the same reason (`res.on` is such a load too); `res` that is not an
    // emitter throws here and the request is served untraced.
    if (!(res instanceof EventEmitter)) throw new TypeError('the response is not an EventEmitter');
    addListener.call(res, 'close', closeListener(t));
    if (cfg.requestHook) {
      const hook = cfg.requestHook;
      fenced('requestHook', undefined, () => hook(span, req));
    }
    // Begun too late (the response already finished or died): `close` may have been emitted
    // already, so end now rather than never.
    if (res.writableFinished || res.destroyed) t.closed();
    return t;
  } catch (err) {
    // Tracing failed for this request: serve it untraced, but keep the caller's trace context.
    report('http:begin', `could not start the server span: ${message(err)}`);
    return ignored(parent);
  }
}

const addListener = EventEmitter.prototype.on;

/** The options of a server span started now (read, never written, by tracewire's tracer). */
const SERVER_OPTIONS: SpanOptions = Object.freeze({ kind: SpanKind.SERVER });

/** A `close` listener for one recording request (created only for those). */
function closeListener(t: RequestTrace): () => void {
  return () => t.closed();
}

/** The request target as received. Express rewrites `req.url` under mounted routers; `originalUrl` keeps it. */
function requestTarget(req: IncomingMessage): string {
  const original = (req as { originalUrl?: unknown }).originalUrl;
  const url = typeof original === 'string' ? original : req.url;
  if (typeof url !== 'string' || url === '') return '/';
  const c = url.charCodeAt(0);
  if (c === 0x2f /* / */ || c === 0x2a /* * */) return url;
  // absolute-form (`GET http://host/p?q HTTP/1.1`, RFC 9112 3.2.2): keep path and query only.
  const scheme = url.indexOf('://');
  if (scheme > 0) {
    const slash = url.indexOf('/', scheme + 3);
    const query = url.indexOf('?', scheme + 3);
    if (slash !== -1 && (query === -1 || slash < query)) return url.slice(slash);
    return query === -1 ? '/' : `/${url.slice(query)}`;
  }
  return url; // authority-form (CONNECT host:port): kept as sent
}

/**
 * The attributes a sampler can use, set at span start (SPEC.md section 3; semconv marks them
 * "SHOULD be provided at span creation time").
 */
function startAttributes(
  cfg: Config,
  req: IncomingMessage,
  path: string,
  query: string | undefined,
  rawMethod: string,
  method: string,
): Attributes {
  const headers = req.headers;
  const attributes: Attributes = {};
  // Order matters for cost, not meaning: what is the same request after request comes first and
  // what changes (path, query, peer port) last, so the OTLP encoder copies the unchanged attributes
  // of the previous span as one run. The encoder reads these keys by name (export/otlp-proto.ts,
  // putHttpServerAttributes): a new key here must be added there too, or every span takes its
  // general path (correct, and ~2,800 instructions per request slower on Node 24 Fastify).
  attributes[ATTR_METHOD] = method;
  if (method === '_OTHER') attributes[ATTR_METHOD_ORIGINAL] = rawMethod;

  // Forwarded (RFC 7239) first, then the X-Forwarded-* de-facto headers, then what the connection says.
  const forwardedRaw = headerString(headers.forwarded);
  const forwarded = forwardedRaw === undefined ? undefined : parseForwarded(forwardedRaw);
  const socket = req.socket as (IncomingMessage['socket'] & { encrypted?: boolean }) | null | undefined;

  let scheme: 'http' | 'https' | undefined;
  if (forwarded?.proto !== undefined) scheme = parseScheme(forwarded.proto);
  if (scheme === undefined) {
    const xfp = headerString(headers['x-forwarded-proto']);
    const first = xfp === undefined ? undefined : firstListItem(xfp);
    if (first !== undefined) scheme = parseScheme(first);
  }
  if (scheme === undefined) {
    const h2 = headerString(headers[':scheme']);
    if (h2 !== undefined) scheme = parseScheme(h2);
  }
  scheme ??= socket?.encrypted === true ? 'https' : 'http';
  attributes['url.scheme'] = scheme;

  let server: HostPort | undefined;
  if (forwarded?.host !== undefined) server = hostPortOf(forwarded.host);
  if (server === undefined) {
    const xfh = headerString(headers['x-forwarded-host']);
    const first = xfh === undefined ? undefined : firstListItem(xfh);
    if (first !== undefined) server = hostPortOf(first);
  }
  if (server === undefined) {
    const authority = headerString(headers[':authority']);
    if (authority !== undefined) server = hostPortOf(authority);
  }
  if (server === undefined) {
    const host = headerString(headers.host);
    if (host !== undefined) server = hostPortOf(host);
  }
  if (server !== undefined) {
    attributes['server.address'] = server.address;
    // semconv: server.port is conditionally required when server.address is set; an authority
    // without a port means the scheme's default port (RFC 9110 4.2).
    attributes['server.port'] = server.port ?? defaultPort(scheme);
  }

  let client: string | undefined;
  if (forwarded?.for !== undefined) client = parseClientAddress(forwarded.for);
  if (client === undefined) {
    const xff = headerString(headers['x-forwarded-for']);
    const first = xff === undefined ? undefined : firstListItem(xff);
    if (first !== undefined) client = parseClientAddress(first);
  }
  // Checked: a socket stand-in (a test double, a proxy library's) may give anything here, and the
  // span may keep these values unchecked (see `typed` in handoff.ts).
  const peer = socket?.remoteAddress;
  const peerAddress = typeof peer === 'string' ? peer : undefined;
  if (client === undefined && peerAddress !== undefined) client = peerAddress;
  if (client !== undefined) attributes['client.address'] = client;
  if (peerAddress !== undefined) attributes['network.peer.address'] = peerAddress;

  // semconv: `1.1`, `2`, `3` (the major alone when there is no minor).
  const version = req.httpVersion;
  if (typeof version === 'string' && version !== '') {
    attributes['network.protocol.version'] = version === '2.0' ? '2' : version === '3.0' ? '3' : version;
  }
  const ua = headerString(headers['user-agent']);
  if (ua !== undefined) attributes['user_agent.original'] = ua;

  if (cfg.requestHeaders !== undefined) captureRawHeaders(req.rawHeaders, cfg.requestHeaders, attributes);

  attributes['url.path'] = path;
  if (query !== undefined) attributes['url.query'] = redactQuery(query, cfg.redactKeys);
  if (peerAddress !== undefined) {
    const peerPort = socket?.remotePort;
    if (typeof peerPort === 'number') attributes['network.peer.port'] = peerPort;
  }
  return attributes;
}

/**
 * `parseHostPort` behind a one-entry memo: a server sees the same `Host` value request after
 * request, and parsing it (trim, regex, object) is then done once. The parsed object is only read.
 * Per module copy on purpose: a cache, not state that must be unique per process.
 */
let lastAuthority: string | undefined;
let lastHostPort: HostPort | undefined;
function hostPortOf(raw: string): HostPort | undefined {
  if (raw === lastAuthority) return lastHostPort;
  const parsed = parseHostPort(raw);
  lastAuthority = raw;
  lastHostPort = parsed;
  return parsed;
}

/** What {@link buildStartAttributes} reads; one reused object (the call is synchronous). */
const scratch: {
  cfg: Config | undefined;
  req: IncomingMessage | undefined;
  path: string;
  query: string | undefined;
  rawMethod: string;
  method: string;
} = { cfg: undefined, req: undefined, path: '', query: undefined, rawMethod: '', method: '' };

function buildStartAttributes(s: typeof scratch): Attributes {
  return startAttributes(s.cfg!, s.req!, s.path, s.query, s.rawMethod, s.method);
}

/** tracewire's tracer, seen through the API (the method is keyed by a registered symbol). */
interface LazyTracer {
  [START_SPAN_LAZY](
    name: string,
    options: SpanOptions,
    ctx: Context,
    build: (arg: typeof scratch) => Attributes,
    arg: typeof scratch,
    typed: boolean,
  ): Span;
}

/**
 * The tracer to start spans with lazily built attributes, when tracewire's SDK is the one behind
 * the API; undefined for any other SDK (the official one gets attributes at start, as always).
 * The tracer taken from the global provider at creation may be the API's proxy, so the provider
 * registered now is looked at, once per registration, as the proxy itself does.
 */
function lazyTracer(cfg: Config): LazyTracer | undefined {
  if (cfg.lazy !== undefined) return cfg.lazy;
  const own = cfg.tracer as Partial<LazyTracer>;
  if (typeof own[START_SPAN_LAZY] === 'function') {
    cfg.lazy = own as LazyTracer;
    return cfg.lazy;
  }
  if (!cfg.fromGlobal) return undefined;
  const global = trace.getTracerProvider() as TracerProvider & { getDelegate?: () => TracerProvider };
  const provider = typeof global.getDelegate === 'function' ? global.getDelegate() : global;
  if (provider === cfg.checkedProvider) return undefined;
  cfg.checkedProvider = provider;
  const t = provider.getTracer(cfg.scope.name, cfg.scope.version) as Partial<LazyTracer>;
  if (typeof t[START_SPAN_LAZY] === 'function') cfg.lazy = t as LazyTracer;
  return cfg.lazy;
}

/** The lifecycle of one traced request. */
class RequestTrace implements ServerRequestTrace {
  readonly recording: boolean;
  private route: string | undefined = undefined;
  private ended: boolean;
  /** Type name of the last exception recorded (it is the one that decided the response). */
  private errorType: string | undefined = undefined;
  private errorMessage: string | undefined = undefined;
  /** Errors already recorded, by identity: Express passes one error through several handlers. */
  private seen: unknown[] | undefined = undefined;

  constructor(
    private readonly cfg: Config,
    readonly span: Span,
    /** The span's context; with `traceInContext`, also this trace under {@link TRACE} (set right after construction). */
    public context: Context,
    private readonly req: IncomingMessage,
    readonly res: ServerResponse,
    /** The name the span started with: the method, or `HTTP` for an unknown one. */
    private readonly baseName: string,
  ) {
    this.recording = span.isRecording();
    // A non-recording span (not sampled) needs no bookkeeping at all.
    this.ended = !this.recording;
  }

  setRoute(template: string): void {
    if (typeof template === 'string' && template !== '') this.route = template;
  }

  recordError(error: unknown): void {
    if (this.ended) return;
    try {
      if (this.seen === undefined) this.seen = [error];
      else if (this.seen.includes(error)) return;
      else if (this.seen.length < 16) this.seen.push(error);
      else return; // bounded: a request that produced 16 distinct errors has said enough
      this.span.recordException(toException(error));
      this.errorType = errorTypeOf(error);
      this.errorMessage = error instanceof Error ? error.message : undefined;
    } catch (err) {
      report('http:recordError', `could not record an exception: ${message(err)}`);
    }
  }

  end(statusCode?: number): void {
    if (this.ended) return;
    this.ended = true;
    const res = this.res;
    this.finish(statusCode ?? (res.headersSent ? res.statusCode : undefined), false);
  }

  /** The response emitted `close`: completed when `writableFinished`, otherwise the connection went away first. */
  closed(): void {
    if (this.ended) return;
    this.ended = true;
    const res = this.res;
    const completed = res.writableFinished === true;
    this.finish(completed || res.headersSent ? res.statusCode : undefined, !completed);
  }

  private finish(statusCode: number | undefined, aborted: boolean): void {
    const span = this.span;
    try {
      const cfg = this.cfg;
      // A route set by user code on the span wins over ours (we only set ours here, at the end, so
      // anything already there came from the application). Both tracewire's and the official SDK's
      // spans expose `attributes`.
      const existing = (span as { attributes?: Attributes }).attributes?.[ATTR_ROUTE];
      let route: string | undefined;
      if (typeof existing === 'string' && existing !== '') route = existing;
      else if (this.route !== undefined) {
        route = this.route;
        span.setAttribute(ATTR_ROUTE, route);
      }

      const base = this.baseName;
      let name = route === undefined ? base : routeName(cfg, base, route);
      if (cfg.spanName !== undefined) {
        const fn = cfg.spanName;
        const custom = fenced<unknown>('spanName', undefined, () => fn(this.req, route));
        if (typeof custom === 'string' && custom !== '') name = custom;
      }
      if (name !== base) span.updateName(name);

      const code = typeof statusCode === 'number' && Number.isInteger(statusCode) ? statusCode : undefined;
      if (code !== undefined) span.setAttribute(ATTR_STATUS, code);

      // semconv "Status": 1xx-4xx leave the status unset on SERVER spans, 5xx is an error; an error
      // before a status was sent is described by the exception type or a documented identifier.
      // An exception with a <500 response was handled (the app answered 4xx): event kept, status unset.
      const noResponse = aborted || code === undefined;
      let errorType: string | undefined;
      if (this.errorType !== undefined && (noResponse || (code !== undefined && code >= 500))) {
        errorType = this.errorType;
      } else if (code !== undefined && code >= 500) {
        errorType = String(code);
      } else if (aborted) {
        errorType = ERROR_TYPE_ABORTED;
      }
      if (errorType !== undefined) {
        span.setAttribute(ATTR_ERROR_TYPE, errorType);
        span.setStatus(
          errorType === this.errorType && this.errorMessage !== undefined
            ? { code: SpanStatusCode.ERROR, message: this.errorMessage }
            : { code: SpanStatusCode.ERROR },
        );
      }

      if (cfg.responseHeaders !== undefined) {
        const res = this.res;
        for (const [header, key] of cfg.responseHeaders) {
          const values = responseHeaderValues(res.getHeader(header));
          if (values !== undefined) span.setAttribute(key, values);
        }
      }
      if (cfg.responseHook !== undefined) {
        const hook = cfg.responseHook;
        fenced('responseHook', undefined, () => hook(span, this.res, this.req));
      }
    } catch (err) {
      report('http:end', `could not complete the server span: ${message(err)}`);
    }
    try {
      span.end();
    } catch (err) {
      report('http:end', `could not end the server span: ${message(err)}`);
    }
  }
}

/**
 * `GET /users/:id`, remembered for the last method and route: consecutive requests mostly hit the
 * same route, and the name is then neither concatenated nor flattened again when it is encoded.
 */
function routeName(cfg: Config, base: string, route: string): string {
  const last = cfg.lastName;
  if (last.route === route && last.base === base) return last.name;
  const name = `${base} ${route}`;
  cfg.lastName = { base, route, name };
  return name;
}

/** An ignored request (or one tracing failed on): no span, but the caller's context continues. */
function ignored(parent: Context): ServerRequestTrace {
  // Nothing was extracted into the stand-in empty context: continue in the API's own root.
  if (parent === EMPTY_CONTEXT) parent = ROOT_CONTEXT;
  return {
    span: trace.getSpan(parent) ?? trace.wrapSpanContext(INVALID_SPAN_CONTEXT),
    context: parent,
    recording: false,
    setRoute: noop,
    recordError: noop,
    end: noop,
  };
}

function noop(): void {}

/**
 * `error.type` for an exception: the class name (`TypeError`, `ValidationError`), `Error` when it
 * has none, `_OTHER` for a thrown non-Error (semconv `error.type`: "_OTHER" is the fallback value).
 */
export function errorTypeOf(error: unknown): string {
  if (typeof error !== 'object' || error === null) return ERROR_TYPE_OTHER;
  const isError =
    error instanceof Error ||
    // an Error from another realm (vm, worker) fails instanceof but has the same shape
    (typeof (error as { message?: unknown }).message === 'string' &&
      typeof (error as { stack?: unknown }).stack === 'string');
  if (!isError) return ERROR_TYPE_OTHER;
  const ctor = (error as { constructor?: unknown }).constructor;
  const name = typeof ctor === 'function' ? ctor.name : undefined;
  return typeof name === 'string' && name !== '' ? name : 'Error';
}

/** What `span.recordException` accepts: Errors and Error-like objects as they are, anything else as a string. */
function toException(error: unknown): Error | string {
  if (error instanceof Error) return error;
  if (typeof error === 'string') return error;
  if (typeof error === 'object' && error !== null && typeof (error as Error).message === 'string') {
    return error as Error;
  }
  try {
    return String(error);
  } catch {
    return '[unprintable value]';
  }
}

function message(err: unknown): string {
  try {
    return err instanceof Error ? err.message : String(err);
  } catch {
    return 'unprintable error';
  }
}

// ---------------------------------------------------------------------------------------------
// Options

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (v instanceof RegExp) return 'a RegExp';
  return typeof v;
}

function bad(option: string, expected: string, got: unknown): TypeError {
  return new TypeError(`tracewire: option "${option}" must be ${expected}, got ${typeName(got)}`);
}

function optionalFunction<T>(name: string, v: T | undefined): T | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'function') throw bad(name, 'a function', v);
  return v;
}

function normaliseOptions(
  options: HttpServerTracingOptions | undefined,
  scope: { name: string; version?: string },
  traceInContext = false,
): Config {
  if (options !== undefined && (typeof options !== 'object' || options === null || Array.isArray(options))) {
    throw new TypeError(`tracewire: options must be an object, got ${typeName(options)}`);
  }
  const o: HttpServerTracingOptions = options ?? {};
  if (typeof scope !== 'object' || scope === null || typeof scope.name !== 'string' || scope.name === '') {
    throw new TypeError('tracewire: createHttpServerTracing needs a scope with a non-empty "name"');
  }
  if (scope.version !== undefined && typeof scope.version !== 'string') {
    throw new TypeError(`tracewire: scope "version" must be a string, got ${typeName(scope.version)}`);
  }

  let tracer: Tracer;
  if (o.tracerProvider !== undefined) {
    const tp = o.tracerProvider as { getTracer?: unknown } | null;
    if (typeof tp !== 'object' || tp === null || typeof tp.getTracer !== 'function') {
      throw bad('tracerProvider', 'a TracerProvider (an object with getTracer())', o.tracerProvider);
    }
    tracer = o.tracerProvider.getTracer(scope.name, scope.version);
  } else {
    // The global provider is a proxy: a tracer taken now follows an SDK registered later.
    tracer = trace.getTracer(scope.name, scope.version);
  }

  const redactKeys = new Set(DEFAULT_REDACTED_QUERY_KEYS);
  if (o.redactQueryKeys !== undefined) {
    if (
      !Array.isArray(o.redactQueryKeys) ||
      o.redactQueryKeys.some((k) => typeof k !== 'string' || k === '')
    ) {
      throw bad('redactQueryKeys', 'an array of non-empty strings', o.redactQueryKeys);
    }
    for (const k of o.redactQueryKeys) redactKeys.add(k);
  }

  let requestHeaders: Map<string, string> | undefined;
  let responseHeaders: Array<readonly [string, string]> | undefined;
  if (o.captureHeaders !== undefined) {
    const ch = o.captureHeaders as { request?: unknown; response?: unknown } | null;
    if (typeof ch !== 'object' || ch === null || Array.isArray(ch)) {
      throw bad('captureHeaders', 'an object { request?: string[], response?: string[] }', ch);
    }
    const req = headerList('captureHeaders.request', ch.request);
    if (req.length > 0) requestHeaders = new Map(req.map((h) => [h, `http.request.header.${h}`]));
    const res = headerList('captureHeaders.response', ch.response);
    if (res.length > 0) responseHeaders = res.map((h) => [h, `http.response.header.${h}`] as const);
  }

  return {
    tracer,
    knownMethods: knownMethodsFromEnv(),
    ignore: normaliseIgnore(o.ignore),
    requestHook: optionalFunction('requestHook', o.requestHook),
    responseHook: optionalFunction('responseHook', o.responseHook),
    spanName: optionalFunction('spanName', o.spanName),
    requestHeaders,
    responseHeaders,
    redactKeys,
    scope: { name: scope.name, version: scope.version },
    fromGlobal: o.tracerProvider === undefined,
    lazy: undefined,
    checkedProvider: undefined,
    lastName: { base: '', route: '', name: '' },
    traceInContext,
  };
}

/** Lowercased, deduplicated header names; the secret headers are dropped (with a warning) even when listed. */
function headerList(option: string, v: unknown): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw bad(option, 'an array of header names', v);
  const out: string[] = [];
  for (const h of v) {
    if (typeof h !== 'string' || !TOKEN.test(h)) {
      throw new TypeError(
        `tracewire: option "${option}" must contain header names (RFC 9110 tokens), got ${
          typeof h === 'string' ? JSON.stringify(h) : typeName(h)
        }`,
      );
    }
    const name = h.toLowerCase();
    if (NEVER_CAPTURED_HEADERS.has(name)) {
      report(
        `http:secret-header:${name}`,
        `"${name}" is listed in ${option} but is never captured (it carries credentials)`,
      );
      continue;
    }
    if (!out.includes(name)) out.push(name);
  }
  return out;
}

/** All matchers folded into one function at creation; a throwing predicate is reported and does not ignore. */
function normaliseIgnore(
  v: IgnoreMatcher | readonly IgnoreMatcher[] | undefined,
): ((req: IncomingMessage, path: string) => boolean) | undefined {
  if (v === undefined) return undefined;
  const list: readonly unknown[] = Array.isArray(v) ? v : [v];
  const paths = new Set<string>();
  const patterns: RegExp[] = [];
  const predicates: Array<(req: IncomingMessage) => boolean> = [];
  for (const m of list) {
    if (typeof m === 'string') paths.add(m);
    else if (m instanceof RegExp) {
      // A global or sticky RegExp keeps `lastIndex` between `test` calls and would match every
      // other request; use a stateless copy.
      patterns.push(m.global || m.sticky ? new RegExp(m.source, m.flags.replace(/[gy]/g, '')) : m);
    } else if (typeof m === 'function') predicates.push(m as (req: IncomingMessage) => boolean);
    else throw bad('ignore', 'a path string, a RegExp or a function (or an array of them)', m);
  }
  if (paths.size === 0 && patterns.length === 0 && predicates.length === 0) return undefined;
  // Only a real `true` ignores: a promise (an async predicate) is truthy but decides nothing.
  const byPredicate = (req: IncomingMessage): boolean => {
    for (const fn of predicates)
      if (fenced<unknown, IncomingMessage>('ignore', false, fn, req) === true) return true;
    return false;
  };
  // Predicates alone (the Fastify plugin always adds its per-route opt-out): no lookup of the
  // path in an empty Set, which hashes the request's fresh path string first (~500 instructions).
  if (paths.size === 0 && patterns.length === 0) return byPredicate;
  return (req, path) => {
    if (paths.has(path)) return true;
    for (const p of patterns) if (p.test(path)) return true;
    return byPredicate(req);
  };
}

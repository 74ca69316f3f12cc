/**
 * The contract between adapters and the framework-neutral HTTP server lifecycle. An adapter tells
 * the lifecycle four things: a request began, the route template is known, an error was seen, the
 * response finished. Everything else (names, attributes, status, propagation, redaction) is decided
 * here, once, for every framework.
 */
import type { Context, Span, TracerProvider } from '@opentelemetry/api';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** A path (exact match on `url.path`), a RegExp tested against the path, or a predicate on the request. */
export type IgnoreMatcher = string | RegExp | ((req: IncomingMessage) => boolean);

/** Options every adapter exposes (they pass them through to the lifecycle unchanged). */
export interface HttpServerTracingOptions {
  /**
   * Requests to leave untraced (health checks, metrics scrapes). An ignored request creates no span
   * but still continues an incoming trace, so outgoing calls made while serving it carry the caller's
   * trace context. Default: nothing ignored.
   * @example ignore: ['/healthz', /^\/metrics/, (req) => req.method === 'OPTIONS']
   */
  ignore?: IgnoreMatcher | readonly IgnoreMatcher[];
  /** Called once the server span has started, with the span and the request. Fenced: a throw is logged through `diag` and ignored. */
  requestHook?: (span: Span, req: IncomingMessage) => void;
  /** Called just before the server span ends. Fenced like `requestHook`. */
  responseHook?: (span: Span, res: ServerResponse, req: IncomingMessage) => void;
  /**
   * Override the span name. Receives the request and the route template (undefined when no route
   * matched). A throw or a non-string/empty result falls back to the default name. Default:
   * `{method} {http.route}` or `{method}`.
   */
  spanName?: (req: IncomingMessage, route: string | undefined) => string;
  /**
   * Opt-in header capture as `http.request.header.<name>` / `http.response.header.<name>` string
   * arrays. Names are case-insensitive. `authorization`, `cookie`, `set-cookie` and
   * `proxy-authorization` are never captured, even when listed.
   */
  captureHeaders?: { request?: readonly string[]; response?: readonly string[] };
  /**
   * Extra query keys whose values become `REDACTED` in `url.query` (on top of the built-in
   * signature keys of SPEC.md section 3). Case-sensitive, as query keys are.
   */
  redactQueryKeys?: readonly string[];
  /** Tracer provider to use. Default: the global one (`trace.getTracerProvider()`). */
  tracerProvider?: TracerProvider;
}

/** What the lifecycle knows about one request; returned by `HttpServerTracing.begin`. */
export interface ServerRequestTrace {
  /** The server span (a non-recording span when the request is ignored or not sampled). */
  readonly span: Span;
  /** The context to run the rest of the request in (contains `span`, or the extracted remote context when ignored). */
  readonly context: Context;
  /** Whether a span is being recorded for this request. */
  readonly recording: boolean;
  /**
   * The route template is known (e.g. `/users/:id`, with mount prefixes). Later calls replace earlier
   * ones (a more specific router wins); a route set by user code on the span is never overwritten.
   */
  setRoute(template: string): void;
  /** An exception was seen while handling the request (recorded as an exception event). */
  recordError(error: unknown): void;
  /**
   * End the span now with this status code (idempotent: only the first end counts). Normally not
   * needed: the lifecycle ends the span itself when the response finishes or the connection closes.
   */
  end(statusCode?: number): void;
}

/** The HTTP server lifecycle one adapter instance uses. Create once per middleware/plugin instance. */
export interface HttpServerTracing {
  /**
   * A request began. `startTime` (ms since epoch, e.g. `performance.timeOrigin + performance.now()`)
   * defaults to now. The returned trace ends itself when `res` finishes or closes. Run the rest of
   * the request in the trace's `context`: a second `begin` for the same `res` made inside it (a
   * mounted sub-app, a second adapter) returns the running trace instead of starting a second span.
   */
  begin(req: IncomingMessage, res: ServerResponse, startTime?: number): ServerRequestTrace;
}

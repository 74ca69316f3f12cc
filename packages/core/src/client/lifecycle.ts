/**
 * The life of one outgoing request, shared by the undici and node:http channel handlers: decide
 * (suppressed? ignored? propagate?), start the CLIENT span, inject, record the response, end.
 * Attribute rules: semantic-conventions `docs/http/http-spans.md`, "HTTP client" (stable).
 */
import type { Attributes, Context, Span, TextMapSetter } from '@opentelemetry/api';
import {
  context as contextApi,
  isSpanContextValid,
  propagation,
  SpanKind,
  SpanStatusCode,
  trace,
} from '../api.js';
import { isTracingSuppressed } from '../export/suppress.js';
import { redactQuery } from '../http/request-attributes.js';
import { fenced, report } from '../sdk/report.js';
import {
  type CompiledMatcher,
  type OutgoingClient,
  type OutgoingConfig,
  RequestInfoImpl,
} from './options.js';
import { BoundedCache, isInternalHost, originPrefix, parseOrigin, type Target } from './target.js';

/**
 * The key `@opentelemetry/core` uses for `suppressTracing` (`createContextKey` is
 * `Symbol.for(description)`, so every copy agrees). The OTLP exporter sends with it set, so its own
 * requests are never traced (no feedback loop); official exporters do the same.
 */

const ATTR_METHOD = 'http.request.method';
const ATTR_METHOD_ORIGINAL = 'http.request.method_original';
const ATTR_SERVER_ADDRESS = 'server.address';
const ATTR_SERVER_PORT = 'server.port';
const ATTR_URL_FULL = 'url.full';
const ATTR_URL_TEMPLATE = 'url.template';
const ATTR_STATUS = 'http.response.status_code';
const ATTR_PROTOCOL_VERSION = 'network.protocol.version';
const ATTR_ERROR_TYPE = 'error.type';

/** `error.type` when the request or response closed early without an error object explaining it. */
export const CLIENT_ERROR_TYPE_ABORTED = 'aborted';
/** `error.type` for a thrown value that is not an Error: semconv's fallback. */
const ERROR_TYPE_OTHER = '_OTHER';

/** Most origins a process keeps decisions for (bounded; cleared when full). */
const MAX_TARGETS = 512;

/** Per-process runtime: the normalised options plus caches; lives on `globalThis` (see enable.ts). */
export interface Runtime {
  cfg: OutgoingConfig;
  /** Per-origin facts and decisions; replaced when the options change. */
  targets: BoundedCache<Target>;
  /** `http.client.request.created` was published at least once: this Node can inject into node:http. */
  httpCreatedSeen: boolean;
  /** Requests in flight (weak: a request nobody holds any more is forgotten with its span). */
  readonly requests: WeakMap<object, RequestState>;
}

export function createRuntime(cfg: OutgoingConfig): Runtime {
  return { cfg, targets: newTargetCache(), httpCreatedSeen: false, requests: new WeakMap() };
}

export function newTargetCache(): BoundedCache<Target> {
  return new BoundedCache(MAX_TARGETS);
}

/** One request in flight. */
export interface RequestState {
  readonly span: Span;
  readonly info: RequestInfoImpl;
  statusCode: number | undefined;
  ended: boolean;
  /** undici only: the request went out on an HTTP/2 session. */
  h2?: boolean;
}

/** The target for an origin (`http://host:port`), cached; undefined when it is not http(s). */
export function targetForOrigin(rt: Runtime, origin: string): Target | undefined {
  let t = rt.targets.get(origin);
  if (t === undefined) {
    const p = parseOrigin(origin);
    if (p === undefined) return undefined;
    t = makeTarget(p.scheme, p.address, p.port);
    rt.targets.set(origin, t);
  }
  return t;
}

export function makeTarget(scheme: string, address: string, port: number): Target {
  return {
    scheme,
    address,
    port,
    prefix: originPrefix(scheme, address, port),
    internal: isInternalHost(address),
  };
}

/** Per-origin cache slots for the two matcher lists. */
type Slot = 'propagateHit' | 'ignoreHit';

function matches(m: CompiledMatcher, t: Target, slot: Slot, info: RequestInfoImpl): boolean {
  if (m.all) return true;
  if (m.origin !== undefined) {
    let hit = t[slot];
    if (hit === undefined) {
      hit = m.origin(t);
      t[slot] = hit;
    }
    if (hit) return true;
  }
  for (const fn of m.perRequest) if (fn(info.fullUrl, info)) return true;
  return false;
}

/**
 * A request is about to be sent: decide, start the span, inject. Returns the state to follow the
 * request with, or undefined when there is nothing to follow: tracewire leaves the request alone
 * (tracing suppressed in the active context, `ignore` matched, CONNECT) or created no span (no
 * parent, `spans: false`; propagation has been done by then). `carrier`/`setter` are undefined
 * when headers can no longer be changed (node:http on Node without `http.client.request.created`).
 */
export function beginRequest<C>(
  rt: Runtime,
  client: OutgoingClient,
  request: object,
  method: string,
  target: Target,
  fullUrl: string,
  carrier: C | undefined,
  setter: TextMapSetter<C> | undefined,
): RequestState | undefined {
  // A CONNECT is a proxy tunnel being opened, not the logical request (which goes through the
  // tunnel and is traced itself); its headers go to the proxy.
  if (method === 'CONNECT') return undefined;
  const ctx = contextApi.active();
  if (isTracingSuppressed(ctx)) return undefined;
  const cfg = rt.cfg;
  const info = new RequestInfoImpl(method, fullUrl, client, request);
  if (cfg.ignore !== undefined && matches(cfg.ignore, target, 'ignoreHit', info)) return undefined;

  let span: Span | undefined;
  let injectCtx: Context = ctx;
  if (cfg.spans) {
    // requireParent: a valid parent span context (recording or not). With an unsampled parent the
    // sampler still gives the client span a fresh id, so each call carries a new parent id
    // (W3C Trace Context section 3.2.2.3 "parent-id"; SPEC.md section 4).
    const parent = trace.getSpanContext(ctx);
    if (!cfg.requireParent || (parent !== undefined && isSpanContextValid(parent))) {
      span = startClientSpan(cfg, ctx, info, target, fullUrl, method);
      injectCtx = trace.setSpan(ctx, span);
    }
  }

  if (carrier !== undefined && setter !== undefined) {
    if (matches(cfg.propagateTo, target, 'propagateHit', info)) {
      try {
        propagation.inject(injectCtx, carrier, setter);
      } catch (err) {
        report('outgoing:inject', `could not add trace headers to an outgoing request: ${message(err)}`);
      }
    } else if (target.noPropagateReported !== true) {
      // Once per origin (the flag lives in the bounded target cache): say why a call carries no
      // trace context.
      target.noPropagateReported = true;
      report(
        `outgoing:no-propagate:${target.address}`,
        `not sending trace context to ${target.address}: not matched by outgoing.propagateTo${
          cfg.propagateToIsDefault
            ? ` (by default only internal hosts get it; add "${target.address}" or a pattern)`
            : ''
        }`,
        'info',
        Number.POSITIVE_INFINITY,
      );
    }
  }

  if (span === undefined) return undefined;
  if (cfg.requestHook !== undefined) {
    const hook = cfg.requestHook;
    const s = span;
    fenced('outgoing requestHook', undefined, () => hook(s, info));
  }
  const state: RequestState = { span, info, statusCode: undefined, ended: false };
  rt.requests.set(request, state);
  return state;
}

function startClientSpan(
  cfg: OutgoingConfig,
  ctx: Context,
  info: RequestInfoImpl,
  target: Target,
  fullUrl: string,
  method: string,
): Span {
  // Attributes a sampler can use are set at start (semconv: "sampling relevant").
  const attributes: Attributes = {
    [ATTR_SERVER_ADDRESS]: target.address,
    [ATTR_SERVER_PORT]: target.port,
    [ATTR_URL_FULL]: redactUrl(fullUrl, cfg.redactKeys),
  };
  let name: string;
  if (cfg.knownMethods.has(method)) {
    attributes[ATTR_METHOD] = method;
    name = method;
  } else {
    attributes[ATTR_METHOD] = '_OTHER';
    attributes[ATTR_METHOD_ORIGINAL] = method;
    name = 'HTTP';
  }
  if (cfg.urlTemplate !== undefined) {
    const fn = cfg.urlTemplate;
    const template = fenced('outgoing urlTemplate', undefined, () => fn(info.url, info));
    if (typeof template === 'string' && template !== '') {
      attributes[ATTR_URL_TEMPLATE] = template;
      name = `${name} ${template}`;
    }
  }
  return cfg.tracer.startSpan(name, { kind: SpanKind.CLIENT, attributes }, ctx);
}

/** `url.full` with signature query values redacted (SPEC.md section 3; semconv `url.full`). */
function redactUrl(fullUrl: string, keys: ReadonlySet<string>): string {
  const q = fullUrl.indexOf('?');
  if (q === -1) return fullUrl;
  const hash = fullUrl.indexOf('#', q);
  const query = hash === -1 ? fullUrl.slice(q + 1) : fullUrl.slice(q + 1, hash);
  const redacted = redactQuery(query, keys);
  return redacted === query
    ? fullUrl
    : `${fullUrl.slice(0, q + 1)}${redacted}${hash === -1 ? '' : fullUrl.slice(hash)}`;
}

/**
 * The response headers arrived. semconv: status ERROR for 4xx and 5xx on CLIENT spans, with
 * `error.type` the status code as a string.
 */
export function responseReceived(
  rt: Runtime,
  st: RequestState,
  statusCode: number,
  protocolVersion: string | undefined,
  response: unknown,
): void {
  st.statusCode = statusCode;
  const span = st.span;
  if (st.ended) return;
  span.setAttribute(ATTR_STATUS, statusCode);
  if (protocolVersion !== undefined) span.setAttribute(ATTR_PROTOCOL_VERSION, protocolVersion);
  if (statusCode >= 400) {
    span.setAttribute(ATTR_ERROR_TYPE, String(statusCode));
    span.setStatus({ code: SpanStatusCode.ERROR });
  }
  const hook = rt.cfg.responseHook;
  if (hook !== undefined) {
    fenced('outgoing responseHook', undefined, () => hook(span, { statusCode, response }, st.info));
  }
}

/** End the span (idempotent). `error` present: a network error, an abort, a TLS failure... */
export function finishRequest(st: RequestState, error?: unknown, errorType?: string): void {
  if (st.ended) return;
  st.ended = true;
  const span = st.span;
  if (error !== undefined || errorType !== undefined) {
    const type = errorType ?? errorTypeOf(error);
    span.setAttribute(ATTR_ERROR_TYPE, type);
    if (error instanceof Error) {
      span.recordException(error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
    } else {
      span.setStatus({ code: SpanStatusCode.ERROR });
    }
  }
  span.end();
}

/**
 * semconv `error.type` for a failed call: Node's low-cardinality error code when there is one
 * (`ECONNREFUSED`, `ENOTFOUND`, `UND_ERR_CONNECT_TIMEOUT`, `ERR_TLS_CERT_ALTNAME_INVALID`), else the
 * exception's name (`AbortError`, `TypeError`), else `_OTHER`.
 */
export function errorTypeOf(error: unknown): string {
  if (typeof error === 'object' && error !== null) {
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string' && code !== '' && code.length <= 64) return code;
    const name = (error as { name?: unknown }).name;
    if (typeof name === 'string' && name !== '' && name.length <= 64) return name;
  }
  return ERROR_TYPE_OTHER;
}

export function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

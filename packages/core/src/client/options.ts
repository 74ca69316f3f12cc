/**
 * Options of `enableOutgoingTracing`, and their normalisation (once, at creation: STYLE.md rule 4).
 */
import type { Span, Tracer, TracerProvider } from '@opentelemetry/api';
import { trace } from '../api.js';
import { SDK_VERSION } from '../sdk/version.js';
import { DEFAULT_REDACTED_QUERY_KEYS, knownMethodsFromEnv } from '../http/request-attributes.js';
import { fenced } from '../sdk/report.js';
import type { Target } from './target.js';

/** Which client library sent the request. */
export type OutgoingClient = 'undici' | 'http';

/**
 * What tracewire knows about one outgoing request. `url` is parsed on first access only, so options
 * that never read it cost no URL parsing.
 */
export interface OutgoingRequestInfo {
  /** The method as sent (e.g. `GET`). */
  readonly method: string;
  /** The request URL (with credentials, if any, removed). Parsed lazily. */
  readonly url: URL;
  /** `undici` for global `fetch` and the `undici` package; `http` for `node:http`/`node:https` (axios, got, ...). */
  readonly client: OutgoingClient;
  /** The library's own request object (an undici `Request` or an `http.ClientRequest`). */
  readonly request: unknown;
}

/** What tracewire knows about the response (headers received, body possibly still streaming). */
export interface OutgoingResponseInfo {
  /** The HTTP status code. */
  readonly statusCode: number;
  /** The library's own response object (`{ statusCode, headers }` for undici, an `http.IncomingMessage` for node:http). */
  readonly response: unknown;
}

/**
 * Selects outgoing requests by destination:
 * - a host pattern: `'api.example.com'`, `'api.example.com:8443'`, `'*.example.com'` (any subdomain,
 *   not the apex), `'*'` (every host), or `'<internal>'` (loopback, private networks and internal
 *   names: see docs/outgoing-requests.md);
 * - a URL prefix (contains `://`): `'https://api.example.com/v1/'`, compared with the request URL;
 * - a RegExp, tested against the full request URL (`https://host[:port]/path?query`);
 * - a predicate on the parsed URL (a throw counts as "no").
 */
export type OutgoingMatcher = string | RegExp | ((url: URL, request: OutgoingRequestInfo) => boolean);

/**
 * Options of `enableOutgoingTracing` (and of `start({ outgoing })`).
 *
 * @example
 * ```ts
 * enableOutgoingTracing({
 *   propagateTo: ['<internal>', '*.acme.com'],
 *   ignore: [/\/healthz$/],
 *   urlTemplate: (url) => (url.pathname.startsWith('/users/') ? '/users/{id}' : undefined),
 * });
 * ```
 */
export interface OutgoingTracingOptions {
  /**
   * Create CLIENT spans. With `false` no span is created but trace context is still propagated
   * (the downstream service then sees the caller's current span as its parent). Default: `true`.
   */
  spans?: boolean;
  /**
   * Where to send `traceparent`/`tracestate`/`baggage` (and whatever else the global propagator
   * injects). `true` or `'*'`: everywhere; `false`: nowhere. Default: `'<internal>'`, i.e. loopback,
   * private IP ranges, single-label names (`http://users:3000`) and internal suffixes
   * (`.local`, `.internal`, `.svc`, `.cluster.local`, ...), so baggage and trace ids do not leak to
   * third-party APIs. Add your own public domains: `['<internal>', '*.acme.com']`.
   */
  propagateTo?: boolean | OutgoingMatcher | readonly OutgoingMatcher[];
  /**
   * Requests to leave alone entirely: no span and no injected headers. Default: none. (The OTLP
   * exporter's own requests are never traced whatever this says: they run with tracing suppressed.)
   */
  ignore?: OutgoingMatcher | readonly OutgoingMatcher[];
  /**
   * Create a span only when there is a parent span in the active context, so background polling
   * outside any request does not start new traces. Propagation still follows `propagateTo`.
   * Default: `true`.
   */
  requireParent?: boolean;
  /**
   * A low-cardinality template for the URL (`/users/{id}`), recorded as `url.template` and used in
   * the span name (`GET /users/{id}`). Return undefined to keep the default name (`GET`). Fenced.
   */
  urlTemplate?: (url: URL, request: OutgoingRequestInfo) => string | undefined;
  /** Called once the CLIENT span has started, before the request is sent. Fenced: a throw is logged through `diag` and ignored. */
  requestHook?: (span: Span, request: OutgoingRequestInfo) => void;
  /** Called when the response headers arrive (the span is still open). Fenced like `requestHook`. */
  responseHook?: (span: Span, response: OutgoingResponseInfo, request: OutgoingRequestInfo) => void;
  /** Extra query keys whose values become `REDACTED` in `url.full`, on top of the built-in signature keys. */
  redactQueryKeys?: readonly string[];
  /** Tracer provider to use. Default: the global one (`trace.getTracerProvider()`). */
  tracerProvider?: TracerProvider;
}

/** A compiled matcher: the origin-only part is cached per origin, the rest runs per request. */
export interface CompiledMatcher {
  /** Decides from the origin alone (host patterns, `<internal>`, origin-only URL prefixes). */
  readonly origin: ((t: Target) => boolean) | undefined;
  /** Needs the path or a predicate: runs per request. */
  readonly perRequest: ReadonlyArray<(fullUrl: string, info: RequestInfoImpl) => boolean>;
  /** Matches everything (skip all work). */
  readonly all: boolean;
}

/** Everything normalised once. */
export interface OutgoingConfig {
  readonly spans: boolean;
  readonly requireParent: boolean;
  readonly propagateTo: CompiledMatcher;
  /** `propagateTo` was not given (the "not sending" note then says how to extend the default). */
  readonly propagateToIsDefault: boolean;
  readonly ignore: CompiledMatcher | undefined;
  readonly urlTemplate: OutgoingTracingOptions['urlTemplate'];
  readonly requestHook: OutgoingTracingOptions['requestHook'];
  readonly responseHook: OutgoingTracingOptions['responseHook'];
  readonly redactKeys: ReadonlySet<string>;
  readonly knownMethods: ReadonlySet<string>;
  readonly tracer: Tracer;
}

/** The instrumentation scope of client spans. */
export const SCOPE_NAME = '@tracewire/core';

/** `OutgoingRequestInfo` with a lazily parsed URL. */
export class RequestInfoImpl implements OutgoingRequestInfo {
  private parsed: URL | undefined;
  constructor(
    readonly method: string,
    /** The unredacted request URL, credentials removed. */
    readonly fullUrl: string,
    readonly client: OutgoingClient,
    readonly request: unknown,
  ) {}
  get url(): URL {
    if (this.parsed === undefined) this.parsed = new URL(this.fullUrl);
    return this.parsed;
  }
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (v instanceof RegExp) return 'a RegExp';
  return typeof v;
}

function bad(option: string, expected: string, got: unknown): TypeError {
  return new TypeError(`tracewire: outgoing option "${option}" must be ${expected}, got ${typeName(got)}`);
}

function optionalBoolean(name: string, v: unknown, dflt: boolean): boolean {
  if (v === undefined) return dflt;
  if (typeof v !== 'boolean') throw bad(name, 'a boolean', v);
  return v;
}

function optionalFunction<T>(name: string, v: T | undefined): T | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'function') throw bad(name, 'a function', v);
  return v;
}

/** The keyword for the default destination set. Angle brackets cannot occur in a host name. */
export const INTERNAL_KEYWORD = '<internal>';

/**
 * Compile a matcher list. Host patterns and origin-only prefixes are decided per origin (and cached
 * by the caller); URL prefixes with a path, RegExps and predicates run per request.
 */
export function compileMatchers(name: string, input: unknown): CompiledMatcher {
  const list: unknown[] = Array.isArray(input) ? input : [input];
  const exactHosts = new Set<string>();
  const hostPorts = new Set<string>();
  const suffixes: string[] = [];
  const originPrefixes: string[] = [];
  let internal = false;
  let all = false;
  const perRequest: Array<(fullUrl: string, info: RequestInfoImpl) => boolean> = [];
  for (const item of list) {
    if (typeof item === 'string') {
      const s = item.trim();
      if (s === '') throw bad(name, 'non-empty strings', item);
      if (s === '*') {
        all = true;
      } else if (s === INTERNAL_KEYWORD) {
        internal = true;
      } else if (s.includes('://')) {
        let u: URL;
        try {
          u = new URL(s);
        } catch {
          throw bad(name, 'valid URL prefixes (a string with "://" is read as a URL)', item);
        }
        if (u.protocol !== 'http:' && u.protocol !== 'https:') throw bad(name, 'http(s) URL prefixes', item);
        // `new URL` lowercases scheme and host and drops the default port, like the URLs we build.
        const prefix = `${u.protocol}//${u.host}`;
        const rest = `${u.pathname}${u.search}`;
        if (rest === '/') {
          // `https://api.example.com[/]`: exactly that origin (compared as an origin, so it does not
          // also match `https://api.example.com.evil.example`).
          originPrefixes.push(prefix);
        } else {
          const full = prefix + rest;
          perRequest.push((url) => url.startsWith(full));
        }
      } else {
        const lower = s.toLowerCase();
        if (lower.startsWith('*.')) suffixes.push(lower.slice(1));
        else if (/:\d+$/.test(lower)) hostPorts.add(lower.replace(/^\[|\](?=:\d+$)/g, ''));
        else exactHosts.add(lower.replace(/^\[(.*)\]$/, '$1'));
      }
    } else if (item instanceof RegExp) {
      // A global/sticky RegExp keeps state between test() calls; use a stateless copy.
      const re = new RegExp(item.source, item.flags.replace(/[gy]/g, ''));
      perRequest.push((url) => re.test(url));
    } else if (typeof item === 'function') {
      const fn = item as (url: URL, request: OutgoingRequestInfo) => boolean;
      perRequest.push(
        (_url, info) =>
          fenced<unknown>(`outgoing ${name} predicate`, false, () => fn(info.url, info)) === true,
      );
    } else {
      throw bad(name, 'a string, a RegExp, a function or an array of them', item);
    }
  }
  const hasOrigin =
    internal || exactHosts.size > 0 || hostPorts.size > 0 || suffixes.length > 0 || originPrefixes.length > 0;
  const origin = hasOrigin
    ? (t: Target) => {
        if (internal && t.internal) return true;
        if (exactHosts.has(t.address)) return true;
        if (hostPorts.size > 0 && hostPorts.has(`${t.address}:${t.port}`)) return true;
        for (const sfx of suffixes) if (t.address.endsWith(sfx)) return true;
        for (const p of originPrefixes) if (t.prefix === p) return true;
        return false;
      }
    : undefined;
  return { origin, perRequest, all };
}

const NEVER: CompiledMatcher = { origin: undefined, perRequest: [], all: false };
const ALWAYS: CompiledMatcher = { origin: undefined, perRequest: [], all: true };

/** RFC 9110 token characters, for methods. */

/** Validate and normalise options; throws `TypeError` naming the bad option. */
export function normaliseOutgoingOptions(options: OutgoingTracingOptions | undefined): OutgoingConfig {
  if (options !== undefined && (typeof options !== 'object' || options === null || Array.isArray(options))) {
    throw new TypeError(`tracewire: outgoing options must be an object, got ${typeName(options)}`);
  }
  const o: OutgoingTracingOptions = options ?? {};
  const spans = optionalBoolean('spans', o.spans, true);
  const requireParent = optionalBoolean('requireParent', o.requireParent, true);

  let propagateTo: CompiledMatcher;
  const p = o.propagateTo as unknown;
  if (p === undefined) propagateTo = compileMatchers('propagateTo', INTERNAL_KEYWORD);
  else if (p === true) propagateTo = ALWAYS;
  else if (p === false) propagateTo = NEVER;
  else if (Array.isArray(p) && p.length === 0) propagateTo = NEVER;
  else propagateTo = compileMatchers('propagateTo', p);

  let ignore: CompiledMatcher | undefined;
  const ig = o.ignore as unknown;
  if (ig !== undefined && !(Array.isArray(ig) && ig.length === 0)) {
    ignore = compileMatchers('ignore', ig);
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

  let tracer: Tracer;
  if (o.tracerProvider !== undefined) {
    const tp = o.tracerProvider as { getTracer?: unknown } | null;
    if (typeof tp !== 'object' || tp === null || typeof tp.getTracer !== 'function') {
      throw bad('tracerProvider', 'a TracerProvider (an object with getTracer())', o.tracerProvider);
    }
    tracer = o.tracerProvider.getTracer(SCOPE_NAME, SDK_VERSION);
  } else {
    // The global provider is a proxy: a tracer taken now follows an SDK registered later.
    tracer = trace.getTracer(SCOPE_NAME, SDK_VERSION);
  }

  return {
    spans,
    requireParent,
    propagateTo,
    propagateToIsDefault: p === undefined,
    ignore,
    urlTemplate: optionalFunction('urlTemplate', o.urlTemplate),
    requestHook: optionalFunction('requestHook', o.requestHook),
    responseHook: optionalFunction('responseHook', o.responseHook),
    redactKeys,
    knownMethods: knownMethodsFromEnv(),
    tracer,
  };
}

/**
 * Shared, allocation-light helpers for the propagators: safe header reads from an arbitrary
 * carrier, lowercase-hex checks, the suppress-tracing flag and diag reporting.
 *
 * Every function here is defensive: a carrier is untrusted input (an HTTP request, a message
 * header map, a user object with throwing getters). Callers still wrap in try/catch.
 */
import type { TextMapGetter } from '@opentelemetry/api';
import { report } from '../sdk/report.js';

// The suppress-tracing key (the same Symbol.for key as the official @opentelemetry/core's), defined
// once in export/suppress.ts: exporters mark their own HTTP calls with it and nothing is injected into them.
export { isTracingSuppressed, SUPPRESS_TRACING_KEY } from '../export/suppress.js';

/** Marker for a header that is present but unusable (repeated, or not a string). */
export const INVALID: unique symbol = Symbol('invalid header');

/**
 * The value of a header that must appear once (`traceparent`, `b3`, `x-b3-*`): `undefined` when
 * absent, {@link INVALID} when repeated (an array with more than one value: W3C Trace Context
 * §3.2 "a repeated header is invalid") or not a string.
 */
export function single(value: unknown): string | undefined | typeof INVALID {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) {
    if (value.length === 0) return undefined;
    if (value.length === 1 && typeof value[0] === 'string') return value[0];
  }
  return INVALID;
}

/**
 * Header names are ASCII case-insensitive (RFC 9110 §5.1, W3C Trace Context §3.2.1). Node's
 * `IncomingMessage.headers` are already lowercased, so callers first ask for the lowercase name
 * and only fall back to this scan of `getter.keys()` when it is absent and the carrier may hold
 * mixed-case keys (message headers, plain objects).
 */
export function getInsensitive<C>(carrier: C, getter: TextMapGetter<C>, lowerName: string): unknown {
  const keys: unknown = getter.keys(carrier);
  if (!Array.isArray(keys)) return undefined;
  const n = lowerName.length;
  for (let i = 0; i < keys.length; i++) {
    const k: unknown = keys[i];
    if (typeof k === 'string' && k.length === n && k !== lowerName && k.toLowerCase() === lowerName) {
      return getter.get(carrier, k);
    }
  }
  return undefined;
}

/**
 * A `TextMapGetter` for plain-object carriers whose keys may be in any case (message headers,
 * hand-built maps): it tries the exact name, then a case-insensitive match over the keys. Node's
 * HTTP headers are already lowercase, so HTTP servers do not need it (and skip its key scan).
 *
 * @example
 * ```ts
 * import { propagation, context } from '../api.js';
 * import { caseInsensitiveGetter } from '@tracewire/core';
 * const ctx = propagation.extract(context.active(), { TraceParent: '00-…-01' }, caseInsensitiveGetter);
 * ```
 */
export const caseInsensitiveGetter: TextMapGetter<Record<string, unknown> | null | undefined> = {
  get(carrier, key) {
    if (carrier === null || carrier === undefined) return undefined;
    let v: unknown = carrier[key];
    if (v === undefined) v = getInsensitive(carrier, caseInsensitiveGetter, key.toLowerCase());
    return typeof v === 'string' || Array.isArray(v) ? (v as string | string[]) : undefined;
  },
  keys(carrier) {
    return carrier === null || carrier === undefined ? [] : Object.keys(carrier);
  },
};

/** Value of a lowercase hex digit, or -1 (uppercase is not HEXDIGLC: W3C Trace Context §3.2.2). */
export function lowerHex(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}

/** `s` is exactly `length` lowercase hex digits and not all zero (W3C Trace Context §3.2.2.3/4). */
export function isValidLowerHexId(s: unknown, length: number): boolean {
  if (typeof s !== 'string' || s.length !== length) return false;
  let nonZero = 0;
  for (let i = 0; i < length; i++) {
    const h = lowerHex(s.charCodeAt(i));
    if (h < 0) return false;
    nonZero |= h;
  }
  return nonZero !== 0;
}

/** SP or HTAB: the OWS of RFC 9110 §5.6.3. */
export function isOws(c: number): boolean {
  return c === 0x20 || c === 0x09;
}

/**
 * A copy of `s` that does not keep `parent` alive. V8 represents `slice()` results of 13+ chars as
 * views into the parent; an id or value kept in a span (which may sit in the export queue) must not
 * pin a huge hostile header in memory. Only used when the parent is large, so the common case pays
 * nothing.
 */
export function detach(s: string, parent: string, threshold: number): string {
  if (parent.length <= threshold || s.length < 13) return s;
  return JSON.parse(JSON.stringify(s)) as string;
}

/** Report an unexpected failure (a throwing getter/setter) once per cause per interval, never throw. */
export function reportFailure(cause: string, what: string, err: unknown): void {
  let detail: string;
  try {
    detail = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  } catch {
    detail = 'unprintable error';
  }
  report(`propagation.${cause}`, `${what} failed and was ignored (${detail})`, 'warn');
}

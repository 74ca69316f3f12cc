/**
 * W3C Trace Context Level 2 propagation (`traceparent` + `tracestate`),
 * https://www.w3.org/TR/trace-context-2/ §3 "Trace Context HTTP Request Headers Format".
 */
import type {
  Context,
  SpanContext,
  TextMapGetter,
  TextMapPropagator,
  TextMapSetter,
} from '@opentelemetry/api';
import { trace } from '../api.js';
import {
  detach,
  INVALID,
  isOws,
  isTracingSuppressed,
  isValidLowerHexId,
  lowerHex,
  reportFailure,
  single,
} from './carrier.js';
import { isStrictTraceState, TraceState } from './trace-state.js';

/** Header names (§3.2.1, §3.3.1: sent in lowercase). */
export const TRACE_PARENT_HEADER = 'traceparent';
export const TRACE_STATE_HEADER = 'tracestate';

/**
 * The Level 2 `random-trace-id` flag (§3.2.2.5.2), bit 1 of `traceFlags`. `@opentelemetry/api`'s
 * `TraceFlags` only names `SAMPLED` (bit 0). When continuing a trace the flag MUST be sent exactly
 * as received; a new trace whose id is random sets it.
 *
 * @example
 * ```ts
 * import { TRACE_FLAG_RANDOM } from '@tracewire/core';
 * const random = (span.spanContext().traceFlags & TRACE_FLAG_RANDOM) !== 0;
 * ```
 */
export const TRACE_FLAG_RANDOM = 0x02;

/** Flags we understand; §3.2.2.5.3: other bits "Vendors MUST set those to zero". */
const KNOWN_FLAGS = 0x03;
/** Pre-built flag strings for the only values we ever send. */
const FLAG_STRINGS = ['00', '01', '02', '03'] as const;
/** A longer (future-version) header's ids are copied so a span does not pin the header in memory. */
const DETACH_THRESHOLD = 128;

/** The fields of a valid `traceparent`. */
export interface ParsedTraceParent {
  traceId: string;
  spanId: string;
  /** The received flags, masked to the bits this version defines (sampled, random). */
  traceFlags: number;
}

/**
 * Parse a `traceparent` value strictly (§3.2.2 and §3.2.4 "Versioning of traceparent"):
 * lowercase hex only; version `ff` invalid; all-zero trace or parent id invalid; version `00` must
 * be exactly 55 characters; a higher version must be at least 55 characters with the flags followed
 * by the end or `-` (its extra fields are ignored and we re-emit version `00`). OWS around the value
 * is tolerated (RFC 9110 §5.5). A comma means several `traceparent` headers were joined (RFC 9110
 * §5.3) and is invalid. Runs in constant time for version 00 and allocates only the two ids.
 *
 * @example
 * ```ts
 * parseTraceParent('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03');
 * // { traceId: '4bf9…4736', spanId: '00f0…02b7', traceFlags: 3 }
 * ```
 */
export function parseTraceParent(raw: string): ParsedTraceParent | undefined {
  const sc = parseToSpanContext(raw);
  return sc === undefined ? undefined : { traceId: sc.traceId, spanId: sc.spanId, traceFlags: sc.traceFlags };
}

/** {@link parseTraceParent} straight into the remote `SpanContext` `extract` returns (one allocation). */
function parseToSpanContext(raw: string): SpanContext | undefined {
  let start = 0;
  let end = raw.length;
  if (end !== 55) {
    while (start < end && isOws(raw.charCodeAt(start))) start++;
    while (end > start && isOws(raw.charCodeAt(end - 1))) end--;
  }
  const length = end - start;
  if (length < 55) return undefined;
  const v0 = lowerHex(raw.charCodeAt(start));
  const v1 = lowerHex(raw.charCodeAt(start + 1));
  if (v0 < 0 || v1 < 0) return undefined;
  const version = (v0 << 4) | v1;
  if (version === 0xff) return undefined;
  if (version === 0) {
    if (length !== 55) return undefined;
  } else if (length > 55) {
    if (raw.charCodeAt(start + 55) !== 0x2d) return undefined;
    const comma = raw.indexOf(',', start + 55);
    if (comma !== -1 && comma < end) return undefined;
  }
  if (
    raw.charCodeAt(start + 2) !== 0x2d ||
    raw.charCodeAt(start + 35) !== 0x2d ||
    raw.charCodeAt(start + 52) !== 0x2d
  ) {
    return undefined;
  }
  let nonZero = 0;
  for (let i = start + 3; i < start + 35; i++) {
    const h = lowerHex(raw.charCodeAt(i));
    if (h < 0) return undefined;
    nonZero |= h;
  }
  if (nonZero === 0) return undefined;
  nonZero = 0;
  for (let i = start + 36; i < start + 52; i++) {
    const h = lowerHex(raw.charCodeAt(i));
    if (h < 0) return undefined;
    nonZero |= h;
  }
  if (nonZero === 0) return undefined;
  const f0 = lowerHex(raw.charCodeAt(start + 53));
  const f1 = lowerHex(raw.charCodeAt(start + 54));
  if (f0 < 0 || f1 < 0) return undefined;
  return {
    traceId: detach(raw.slice(start + 3, start + 35), raw, DETACH_THRESHOLD),
    spanId: detach(raw.slice(start + 36, start + 52), raw, DETACH_THRESHOLD),
    traceFlags: ((f0 << 4) | f1) & KNOWN_FLAGS,
    isRemote: true,
  };
}

/**
 * Combine repeated `tracestate` headers (§3.3.1: "MUST be combined into a single header according to
 * RFC 9110"): an array is joined with `,`. `undefined` when absent or unusable.
 */
function combinedTraceState(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (!Array.isArray(value)) return undefined;
  for (let i = 0; i < value.length; i++) if (typeof value[i] !== 'string') return undefined;
  return value.length === 0 ? undefined : value.join(',');
}

/**
 * W3C Trace Context Level 2 propagator for `@opentelemetry/api`: works with tracewire's SDK or any
 * other (it reads and writes only the `SpanContext` in the context).
 *
 * - `extract` never throws and returns the context unchanged for a missing or invalid `traceparent`
 *   (then `tracestate` is ignored, §3.3); an invalid `tracestate` is dropped whole.
 * - The `random` flag (bit 1) is kept exactly as received; other unknown bits are cleared.
 * - `inject` writes version `00` and `tracestate` only when non-empty; nothing when tracing is
 *   suppressed or the span context is invalid.
 *
 * @example
 * ```ts
 * import { propagation } from '@opentelemetry/api';
 * import { W3CTraceContextPropagator } from '@tracewire/core';
 * propagation.setGlobalPropagator(new W3CTraceContextPropagator());
 * ```
 */
export class W3CTraceContextPropagator implements TextMapPropagator {
  inject(context: Context, carrier: unknown, setter: TextMapSetter): void {
    try {
      const sc = trace.getSpanContext(context);
      if (sc === undefined || isTracingSuppressed(context)) return;
      const { traceId, spanId } = sc;
      if (!isValidLowerHexId(traceId, 32) || !isValidLowerHexId(spanId, 16)) return;
      setter.set(
        carrier,
        TRACE_PARENT_HEADER,
        `00-${traceId}-${spanId}-${FLAG_STRINGS[(sc.traceFlags as number) & KNOWN_FLAGS]}`,
      );
      const ts = sc.traceState;
      if (ts !== undefined) {
        let value = ts.serialize();
        // Another SDK's TraceState may hold what the strict grammar rejects: send only a valid list.
        if (value !== '' && !isStrictTraceState(ts)) value = TraceState.parse(value)?.serialize() ?? '';
        if (value !== '') setter.set(carrier, TRACE_STATE_HEADER, value);
      }
    } catch (err) {
      reportFailure('tracecontext.inject', 'W3C trace context inject', err);
    }
  }

  extract(context: Context, carrier: unknown, getter: TextMapGetter): Context {
    try {
      // Header names are case-insensitive (§3.2.1), but matching them is the getter's job: Node's
      // headers are lowercase already, and scanning every carrier's keys would cost each request.
      const value = single(getter.get(carrier, TRACE_PARENT_HEADER));
      if (value === undefined || value === INVALID) return context;
      const spanContext = parseToSpanContext(value);
      if (spanContext === undefined) return context;
      // §3.3: a tracestate failure "MUST NOT affect the parsing of traceparent", even a throwing getter.
      try {
        const rawState: unknown = getter.get(carrier, TRACE_STATE_HEADER);
        if (rawState !== undefined) {
          const header = combinedTraceState(rawState);
          const traceState = header === undefined ? undefined : TraceState.parse(header);
          if (traceState !== undefined && traceState.size > 0) spanContext.traceState = traceState;
        }
      } catch (err) {
        reportFailure('tracecontext.extract', 'reading tracestate', err);
      }
      return trace.setSpanContext(context, spanContext);
    } catch (err) {
      reportFailure('tracecontext.extract', 'W3C trace context extract', err);
      return context;
    }
  }

  fields(): string[] {
    return [TRACE_PARENT_HEADER, TRACE_STATE_HEADER];
  }
}

/**
 * B3 propagation (https://github.com/openzipkin/b3-propagation), as the OpenTelemetry specification
 * asks (`specification/context/api-propagators.md`, "B3 Requirements"): extract both the single
 * `b3` header and the `X-B3-*` headers (single takes precedence), keep the debug flag and treat it
 * as sampled, inject one encoding (single by default), never send `X-B3-ParentSpanId`.
 */
import type { Context, TextMapGetter, TextMapPropagator, TextMapSetter } from '@opentelemetry/api';
import { createContextKey, TraceFlags, trace } from '../api.js';
import { INVALID, isOws, isTracingSuppressed, isValidLowerHexId, reportFailure, single } from './carrier.js';

export const B3_CONTEXT_HEADER = 'b3';
export const X_B3_TRACE_ID = 'x-b3-traceid';
export const X_B3_SPAN_ID = 'x-b3-spanid';
export const X_B3_SAMPLED = 'x-b3-sampled';
export const X_B3_FLAGS = 'x-b3-flags';
export const X_B3_PARENT_SPAN_ID = 'x-b3-parentspanid';

/**
 * Context key of the B3 debug flag: the same description as `@opentelemetry/propagator-b3`
 * (`createContextKey` is `Symbol.for`), so the flag survives a mix of both propagators.
 */
export const B3_DEBUG_FLAG_KEY = createContextKey('OpenTelemetry Context Key B3 Debug Flag');

/**
 * Context key of a B3 sampling decision that came without trace ids (`b3: 0`, `b3: 1`, `b3: d`, or
 * a lone `X-B3-Sampled`/`X-B3-Flags`). There is no span context to carry it, so it is kept here for
 * a sampler that wants to honour it; see {@link getB3SamplingDecision}.
 */
export const B3_SAMPLING_DECISION_KEY = createContextKey('tracewire.b3.sampling-decision');

/** What a B3 sampling state asks for. */
export type B3SamplingDecision = 'deny' | 'accept' | 'debug';

/**
 * The B3 sampling decision extracted without trace ids, if any. A sampler may honour it (deny:
 * drop; accept/debug: sample) for a root span; other SDKs ignore it, as the official propagator does.
 *
 * @example
 * ```ts
 * if (getB3SamplingDecision(parentContext) === 'deny') return { decision: SamplingDecision.NOT_RECORD };
 * ```
 */
export function getB3SamplingDecision(context: Context): B3SamplingDecision | undefined {
  const v = context.getValue(B3_SAMPLING_DECISION_KEY);
  return v === 'deny' || v === 'accept' || v === 'debug' ? v : undefined;
}

/** Options of {@link B3Propagator}. */
export interface B3PropagatorOptions {
  /**
   * Encoding written by `inject`: `'single'` (one `b3` header) or `'multi'` (`X-B3-*` headers).
   * Both are always read. Default `'single'` (`OTEL_PROPAGATORS=b3`; `b3multi` selects `'multi'`).
   */
  injectEncoding?: 'single' | 'multi';
}

/** A B3 id: 16 or 32 hex digits. Uppercase is tolerated and normalised (W3C output must be lowercase). */
function normaliseId(raw: string, allow32: boolean): string | undefined {
  const n = raw.length;
  if (n !== 16 && !(allow32 && n === 32)) return undefined;
  const lower = isValidLowerHexId(raw, n) ? raw : raw.toLowerCase();
  if (!isValidLowerHexId(lower, lower.length)) return undefined;
  // A 64-bit trace id is left-padded to 128 bits (b3-propagation "TraceId").
  return lower.length === 16 && allow32 ? `0000000000000000${lower}` : lower;
}

function trimOws(s: string): string {
  const n = s.length;
  if (n === 0 || (!isOws(s.charCodeAt(0)) && !isOws(s.charCodeAt(n - 1)))) return s;
  let a = 0;
  let b = n;
  while (a < b && isOws(s.charCodeAt(a))) a++;
  while (b > a && isOws(s.charCodeAt(b - 1))) b--;
  return s.slice(a, b);
}

interface B3Parsed {
  traceId?: string;
  spanId?: string;
  decision?: B3SamplingDecision;
}

/**
 * Parse a single-header value: `{traceId}-{spanId}[-{sampling}[-{parentSpanId}]]` or a lone
 * sampling state `0` | `1` | `d`. `undefined` when malformed.
 */
export function parseB3Single(raw: string): B3Parsed | undefined {
  const s = trimOws(raw);
  if (s.length === 1) {
    const decision = samplingState(s);
    return decision === undefined ? undefined : { decision };
  }
  if (s.length > 32 + 1 + 16 + 2 + 17) return undefined;
  const parts = s.split('-');
  if (parts.length < 2 || parts.length > 4) return undefined;
  const traceId = normaliseId(parts[0]!, true);
  const spanId = normaliseId(parts[1]!, false);
  if (traceId === undefined || spanId === undefined) return undefined;
  const out: B3Parsed = { traceId, spanId };
  if (parts.length >= 3) {
    const decision = samplingState(parts[2]!);
    if (decision === undefined) return undefined;
    out.decision = decision;
  }
  if (parts.length === 4 && normaliseId(parts[3]!, false) === undefined) return undefined;
  return out;
}

function samplingState(s: string): B3SamplingDecision | undefined {
  if (s === '1') return 'accept';
  if (s === '0') return 'deny';
  if (s === 'd') return 'debug';
  return undefined;
}

/** `X-B3-Sampled`: `1`/`0`, and `true`/`false` as older tracers sent (b3-propagation "Sampling State"). */
function sampledHeader(s: string): B3SamplingDecision | undefined {
  const v = trimOws(s).toLowerCase();
  if (v === '1' || v === 'true') return 'accept';
  if (v === '0' || v === 'false') return 'deny';
  return undefined;
}

type Lookup = (lowerName: string) => string | undefined | typeof INVALID;

/**
 * Parse the multi-header encoding. `undefined` when malformed or absent. `X-B3-Flags: 1` means
 * debug, which implies sampled.
 */
function parseB3Multi(get: Lookup): B3Parsed | undefined {
  const rawTrace = get(X_B3_TRACE_ID);
  const rawSpan = get(X_B3_SPAN_ID);
  const rawSampled = get(X_B3_SAMPLED);
  const rawFlags = get(X_B3_FLAGS);
  if (rawTrace === INVALID || rawSpan === INVALID || rawSampled === INVALID || rawFlags === INVALID) {
    return undefined;
  }
  let decision: B3SamplingDecision | undefined;
  if (rawSampled !== undefined) {
    decision = sampledHeader(rawSampled);
    if (decision === undefined) return undefined;
  }
  if (rawFlags !== undefined && trimOws(rawFlags) === '1') decision = 'debug';
  if (rawTrace === undefined && rawSpan === undefined)
    return decision === undefined ? undefined : { decision };
  if (rawTrace === undefined || rawSpan === undefined) return undefined;
  const traceId = normaliseId(trimOws(rawTrace), true);
  const spanId = normaliseId(trimOws(rawSpan), false);
  if (traceId === undefined || spanId === undefined) return undefined;
  const rawParent = get(X_B3_PARENT_SPAN_ID);
  if (
    rawParent === INVALID ||
    (rawParent !== undefined && normaliseId(trimOws(rawParent), false) === undefined)
  ) {
    return undefined;
  }
  return decision === undefined ? { traceId, spanId } : { traceId, spanId, decision };
}

/**
 * B3 propagator (single and multi header) for `@opentelemetry/api`, usable with any SDK.
 *
 * `extract` reads both encodings (the `b3` header first; if it is absent or malformed the `X-B3-*`
 * headers), case-insensitively, left-pads 64-bit trace ids to 128 bits, marks the result
 * `isRemote`, keeps the debug flag, and never throws. A sampling state without ids (`b3: 0`) is
 * kept under {@link B3_SAMPLING_DECISION_KEY}. `inject` writes the encoding chosen at creation,
 * without a parent span id.
 *
 * @example
 * ```ts
 * import { propagation } from '@opentelemetry/api';
 * import { B3Propagator } from '@tracewire/core';
 * propagation.setGlobalPropagator(new B3Propagator({ injectEncoding: 'multi' }));
 * ```
 */
export class B3Propagator implements TextMapPropagator {
  readonly #multi: boolean;
  readonly #fields: readonly string[];

  constructor(options: B3PropagatorOptions = {}) {
    if (typeof options !== 'object' || options === null) {
      throw new TypeError('B3Propagator: options must be an object');
    }
    const enc = options.injectEncoding;
    if (enc !== undefined && enc !== 'single' && enc !== 'multi') {
      throw new TypeError(
        `B3Propagator: options.injectEncoding must be 'single' or 'multi', got ${JSON.stringify(enc) ?? String(enc)}`,
      );
    }
    this.#multi = enc === 'multi';
    this.#fields = this.#multi
      ? [X_B3_TRACE_ID, X_B3_SPAN_ID, X_B3_SAMPLED, X_B3_FLAGS, X_B3_PARENT_SPAN_ID]
      : [B3_CONTEXT_HEADER];
  }

  inject(context: Context, carrier: unknown, setter: TextMapSetter): void {
    try {
      if (isTracingSuppressed(context)) return;
      const sc = trace.getSpanContext(context);
      const debugValue = context.getValue(B3_DEBUG_FLAG_KEY);
      const debug = debugValue === 'd' || debugValue === '1' || debugValue === true;
      if (sc === undefined || !isValidLowerHexId(sc.traceId, 32) || !isValidLowerHexId(sc.spanId, 16)) {
        // Pass on a sampling decision that came without ids, so the deny/accept reaches downstream.
        const decision = getB3SamplingDecision(context);
        if (decision === undefined) return;
        if (!this.#multi)
          setter.set(
            carrier,
            B3_CONTEXT_HEADER,
            decision === 'deny' ? '0' : decision === 'debug' ? 'd' : '1',
          );
        else if (decision === 'debug') setter.set(carrier, X_B3_FLAGS, '1');
        else setter.set(carrier, X_B3_SAMPLED, decision === 'deny' ? '0' : '1');
        return;
      }
      const sampled = ((sc.traceFlags as number) & TraceFlags.SAMPLED) === TraceFlags.SAMPLED;
      if (!this.#multi) {
        setter.set(
          carrier,
          B3_CONTEXT_HEADER,
          `${sc.traceId}-${sc.spanId}-${debug ? 'd' : sampled ? '1' : '0'}`,
        );
        return;
      }
      setter.set(carrier, X_B3_TRACE_ID, sc.traceId);
      setter.set(carrier, X_B3_SPAN_ID, sc.spanId);
      // b3-propagation: debug is sent as X-B3-Flags: 1 and implies sampled, so X-B3-Sampled is omitted.
      if (debug) setter.set(carrier, X_B3_FLAGS, '1');
      else setter.set(carrier, X_B3_SAMPLED, sampled ? '1' : '0');
    } catch (err) {
      reportFailure('b3.inject', 'B3 inject', err);
    }
  }

  extract(context: Context, carrier: unknown, getter: TextMapGetter): Context {
    try {
      let keysScanned = false;
      const found = new Map<string, unknown>();
      const get: Lookup = (name) => {
        let v: unknown = getter.get(carrier, name);
        if (v === undefined) {
          // One case-insensitive pass over the carrier's keys serves every B3 header name.
          if (!keysScanned) {
            keysScanned = true;
            scanB3Keys(carrier, getter, found);
          }
          v = found.get(name);
        }
        return single(v);
      };
      let parsed: B3Parsed | undefined;
      let fromSingle = false;
      const b3 = get(B3_CONTEXT_HEADER);
      if (typeof b3 === 'string') {
        parsed = parseB3Single(b3);
        fromSingle = parsed !== undefined;
      }
      if (parsed === undefined) parsed = parseB3Multi(get);
      if (parsed === undefined) return context;
      const { traceId, spanId, decision } = parsed;
      // Same values as @opentelemetry/propagator-b3 stores: 'd' from the single header, '1' from X-B3-Flags.
      if (decision === 'debug') context = context.setValue(B3_DEBUG_FLAG_KEY, fromSingle ? 'd' : '1');
      if (traceId === undefined || spanId === undefined) {
        return decision === undefined ? context : context.setValue(B3_SAMPLING_DECISION_KEY, decision);
      }
      return trace.setSpanContext(context, {
        traceId,
        spanId,
        isRemote: true,
        // Debug implies sampled (OpenTelemetry "B3 Extract"). An absent sampling state ("defer") is
        // not sampled, as in the official propagator.
        traceFlags: decision === 'accept' || decision === 'debug' ? TraceFlags.SAMPLED : TraceFlags.NONE,
      });
    } catch (err) {
      reportFailure('b3.extract', 'B3 extract', err);
      return context;
    }
  }

  fields(): string[] {
    return this.#fields.slice();
  }
}

const B3_NAMES = new Set([
  B3_CONTEXT_HEADER,
  X_B3_TRACE_ID,
  X_B3_SPAN_ID,
  X_B3_SAMPLED,
  X_B3_FLAGS,
  X_B3_PARENT_SPAN_ID,
]);

function scanB3Keys(carrier: unknown, getter: TextMapGetter, found: Map<string, unknown>): void {
  const keys: unknown = getter.keys(carrier);
  if (!Array.isArray(keys)) return;
  for (let i = 0; i < keys.length; i++) {
    const k: unknown = keys[i];
    if (typeof k !== 'string' || k.length < 2 || k.length > 17) continue;
    const lower = k.toLowerCase();
    if (lower !== k && B3_NAMES.has(lower) && !found.has(lower)) found.set(lower, getter.get(carrier, k));
  }
}

/**
 * Span limits (OpenTelemetry SDK specification `trace/sdk.md`, "Span Limits", and
 * `configuration/sdk-environment-variables.md`, "Attribute Limits" / "Span Limits"): options in code
 * win over `OTEL_SPAN_*` variables, which win over the general `OTEL_ATTRIBUTE_*` ones, which win
 * over the defaults. Resolved once per tracer provider.
 */
import { envNumber } from './env.js';
import type { SpanLimits } from './types.js';

type Env = Record<string, string | undefined>;

/** Every limit resolved; `Infinity` means unlimited. */
export type ResolvedSpanLimits = Required<SpanLimits>;

/** The specification's defaults. */
export const DEFAULT_COUNT_LIMIT = 128;

const KEYS = [
  'attributeValueLengthLimit',
  'attributeCountLimit',
  'eventCountLimit',
  'linkCountLimit',
  'attributePerEventCountLimit',
  'attributePerLinkCountLimit',
] as const;

/** Throws a `TypeError` naming the option when a limit given in code is not a non-negative integer. */
export function validateSpanLimits(limits: unknown, optionName = 'spanLimits'): SpanLimits | undefined {
  if (limits === undefined) return undefined;
  if (limits === null || typeof limits !== 'object') {
    throw new TypeError(
      `tracewire: ${optionName} must be an object, got ${limits === null ? 'null' : typeof limits}`,
    );
  }
  const l = limits as Record<string, unknown>;
  for (const key of Object.keys(l)) {
    if (!(KEYS as readonly string[]).includes(key)) {
      throw new TypeError(`tracewire: ${optionName}.${key} is not a span limit (known: ${KEYS.join(', ')})`);
    }
    const v = l[key];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !(Number.isInteger(v) || v === Number.POSITIVE_INFINITY) || v < 0) {
      throw new TypeError(
        `tracewire: ${optionName}.${key} must be a non-negative integer (or Infinity), got ${String(v)}`,
      );
    }
  }
  return l as SpanLimits;
}

/**
 * Resolve every limit: code, then `OTEL_SPAN_*`/`OTEL_EVENT_*`/`OTEL_LINK_*`, then the general
 * `OTEL_ATTRIBUTE_*`, then the default (value length unlimited, counts 128).
 *
 * @example
 * ```ts
 * resolveSpanLimits({ attributeCountLimit: 64 }); // { attributeCountLimit: 64, eventCountLimit: 128, ... }
 * ```
 */
export function resolveSpanLimits(code: SpanLimits | undefined, env: Env): ResolvedSpanLimits {
  const n = (name: string) => envNumber(name, env, { min: 0, integer: true });
  const generalLength = n('OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT');
  const generalCount = n('OTEL_ATTRIBUTE_COUNT_LIMIT');
  return {
    attributeValueLengthLimit:
      code?.attributeValueLengthLimit ??
      n('OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT') ??
      generalLength ??
      Number.POSITIVE_INFINITY,
    attributeCountLimit:
      code?.attributeCountLimit ??
      n('OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT') ??
      generalCount ??
      DEFAULT_COUNT_LIMIT,
    eventCountLimit: code?.eventCountLimit ?? n('OTEL_SPAN_EVENT_COUNT_LIMIT') ?? DEFAULT_COUNT_LIMIT,
    linkCountLimit: code?.linkCountLimit ?? n('OTEL_SPAN_LINK_COUNT_LIMIT') ?? DEFAULT_COUNT_LIMIT,
    attributePerEventCountLimit:
      code?.attributePerEventCountLimit ?? n('OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT') ?? DEFAULT_COUNT_LIMIT,
    attributePerLinkCountLimit:
      code?.attributePerLinkCountLimit ?? n('OTEL_LINK_ATTRIBUTE_COUNT_LIMIT') ?? DEFAULT_COUNT_LIMIT,
  };
}

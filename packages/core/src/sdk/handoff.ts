/**
 * A hand-off slot between tracewire's HTTP lifecycle and tracewire's `Span`: the lifecycle builds a
 * fresh attributes object per request that nobody else holds, so the span may keep that object as
 * its own instead of copying it key by key (a copy is one megamorphic keyed store per attribute,
 * measured at ~10% of the per-request cost of tracing). The lifecycle talks to the tracer only
 * through `@opentelemetry/api` (it may be the official SDK's), so the object is offered here, right
 * before `startSpan`, and withdrawn right after: a span takes it only if it is the very object it
 * was given. Synchronous and single-threaded, so nothing else can observe the slot in between.
 *
 * On `globalThis` under a registered symbol: the CJS and the ESM build of this package may both be
 * loaded (dual package hazard), and the lifecycle of one must reach the spans of the other.
 */
import type { Attributes } from '@opentelemetry/api';

interface Handoff {
  /** An attributes object its creator gives up: the span that receives it may keep it. */
  attributes: Attributes | undefined;
  /**
   * The same object again when its creator also vouches for its contents: at most
   * {@link TYPED_MAX_KEYS} keys, each a non-empty string other than `__proto__`, each value a
   * string, number or boolean, and nobody else has seen it (built after sampling). The span then
   * keeps it without looking at each value, unless a value length limit or a count limit below
   * TYPED_MAX_KEYS needs them looked at.
   */
  typed: Attributes | undefined;
}

/** The most keys an object offered as {@link Handoff.typed} may have. */
export const TYPED_MAX_KEYS = 16;

const KEY = Symbol.for('tracewire.span.attributesHandoff');

/** The process-wide slot (created by whichever copy of this module loads first). */
export const handoff: Handoff = (() => {
  const g = globalThis as { [KEY]?: Handoff };
  let h = g[KEY];
  if (h === undefined) {
    h = { attributes: undefined, typed: undefined };
    g[KEY] = h;
  }
  return h;
})();

/**
 * The key of the tracer method the HTTP lifecycle uses when tracewire's SDK is behind the API: a
 * `startSpan` whose attributes are built only for spans that record (`Tracer` in tracer.ts).
 * `Symbol.for`, for the same dual-package reason.
 */
export const START_SPAN_LAZY: unique symbol = Symbol.for('tracewire.tracer.startSpanLazy');

/**
 * Time for spans. Span timestamps are `HrTime` (`[seconds, nanoseconds]` since the epoch) as the
 * OpenTelemetry API defines them. They come from `performance.now()` (monotonic, sub-microsecond)
 * anchored to the wall clock at `performance.timeOrigin`, so a span's duration is exact even if the
 * wall clock is stepped while it runs.
 *
 * The monotonic clock and the wall clock drift apart in a long-running process (NTP slewing, a
 * suspended VM). `now()` re-checks the anchor at most once a second and moves it when the drift
 * exceeds 2 ms (more than `Date.now()`'s 1 ms granularity, so the anchor does not jitter). A span keeps
 * the anchor it started with, so its end is measured on the same scale as its start.
 */
import type { HrTime, TimeInput } from '@opentelemetry/api';

/** Epoch time of `performance.now() === 0`, split so that adding nanoseconds stays exact. */
export interface Anchor {
  readonly sec: number;
  readonly ns: number;
  /** The same instant in epoch milliseconds (float). */
  readonly ms: number;
}

const perf = performance;

function anchorAt(epochMs: number): Anchor {
  const sec = Math.floor(epochMs / 1000);
  return { sec, ns: Math.round((epochMs - sec * 1000) * 1e6), ms: epochMs };
}

let anchor: Anchor = anchorAt(perf.timeOrigin);
let nextCheck = 0;

/**
 * The current anchor (re-checked at most once a second). Cheap: one comparison on the fast path.
 * `rel` only says whether a check is due; the check reads both clocks itself, back to back. The
 * caller read `rel` a moment earlier, and a pause in that moment would otherwise look like drift and
 * move every timestamp of the next second by its length: a scavenge (6–10 ms on a busy Node 20
 * Express server), or a container's CPU quota stopping the process (tens of milliseconds).
 */
export function currentAnchor(rel: number): Anchor {
  if (rel >= nextCheck) recheckAnchor();
  return anchor;
}

function recheckAnchor(): void {
  const now = perf.now();
  nextCheck = now + 1000;
  const candidate = Date.now() - now;
  if (Math.abs(candidate - anchor.ms) > 2) anchor = anchorAt(candidate);
}

/** `performance.now()`: milliseconds on the monotonic clock. */
export function monotonicNow(): number {
  return perf.now();
}

/** HrTime of monotonic time `rel` (ms) on `a`. */
export function relToHrTime(a: Anchor, rel: number): HrTime {
  const total = a.ns + Math.round(rel * 1e6);
  const carry = Math.floor(total / 1e9);
  return [a.sec + carry, total - carry * 1e9];
}

/** The same instant as {@link relToHrTime}, written to `out[at]` (seconds) and `out[at + 1]` (nanoseconds): no array. */
export function writeRelTime(a: Anchor, rel: number, out: Float64Array, at: number): void {
  const total = a.ns + Math.round(rel * 1e6);
  const carry = Math.floor(total / 1e9);
  out[at] = a.sec + carry;
  out[at + 1] = total - carry * 1e9;
}

/** HrTime of an epoch time in milliseconds. */
export function epochMillisToHrTime(ms: number): HrTime {
  const sec = Math.floor(ms / 1000);
  return [sec, Math.round((ms - sec * 1000) * 1e6)];
}

/** The current time as HrTime. */
export function hrNow(): HrTime {
  const rel = perf.now();
  return relToHrTime(currentAnchor(rel), rel);
}

/** Whether `v` is an `HrTime` (`[seconds, nanoseconds]`). */
export function isHrTime(v: unknown): v is HrTime {
  return Array.isArray(v) && v.length === 2 && typeof v[0] === 'number' && typeof v[1] === 'number';
}

/** Whether `v` is a `TimeInput` (HrTime, epoch milliseconds, or Date). */
export function isTimeInput(v: unknown): v is TimeInput {
  return typeof v === 'number' || v instanceof Date || isHrTime(v);
}

/**
 * A `TimeInput` as HrTime, or undefined if it is not one. Numbers are epoch milliseconds, except
 * values not above `performance.now()`, which are read as `performance.now()` readings (what the
 * official SDK does, so code passing `performance.now()` keeps working).
 */
export function toHrTime(input: TimeInput, a: Anchor = anchor): HrTime | undefined {
  if (typeof input === 'number') {
    if (!Number.isFinite(input)) return undefined;
    if (input <= perf.now()) return relToHrTime(a, input);
    return epochMillisToHrTime(input);
  }
  if (input instanceof Date) {
    const ms = input.getTime();
    return Number.isFinite(ms) ? epochMillisToHrTime(ms) : undefined;
  }
  if (isHrTime(input)) return [input[0], input[1]];
  return undefined;
}

/** `b - a` as HrTime (official `hrTimeDuration`). */
export function hrTimeDuration(a: HrTime, b: HrTime): HrTime {
  let sec = b[0] - a[0];
  let ns = b[1] - a[1];
  if (ns < 0) {
    sec -= 1;
    ns += 1e9;
  }
  return [sec, ns];
}

/** Whether `a` is before `b`. */
export function hrTimeBefore(a: HrTime, b: HrTime): boolean {
  return a[0] < b[0] || (a[0] === b[0] && a[1] < b[1]);
}

/**
 * Problems are reported through OpenTelemetry's `diag` logger, at most once per cause per interval,
 * so a dead collector or a throwing hook under load does not flood the application's logs
 * (DESIGN.md, "Contracts that hold everywhere").
 */
import { diag } from '../api.js';

const STATE = Symbol.for('tracewire.report');

interface ReportState {
  last: Map<string, { at: number; suppressed: number }>;
}

function state(): ReportState {
  const g = globalThis as { [STATE]?: ReportState };
  let s = g[STATE];
  if (!s) {
    s = { last: new Map() };
    g[STATE] = s;
  }
  return s;
}

/** Default interval between two reports of the same cause. */
export const REPORT_INTERVAL_MS = 30_000;

/**
 * Report a telemetry problem through OpenTelemetry's `diag` logger: log `message` at `level`, unless the same `cause` was reported less than
 * `intervalMs` ago; the next report says how many were suppressed in between.
 * Never throws.
 */
export function report(
  cause: string,
  message: string,
  level: 'error' | 'warn' | 'info' | 'debug' = 'warn',
  intervalMs = REPORT_INTERVAL_MS,
): void {
  try {
    const s = state();
    const now = Date.now();
    const prev = s.last.get(cause);
    if (prev && now - prev.at < intervalMs) {
      prev.suppressed++;
      return;
    }
    const suffix = prev && prev.suppressed > 0 ? ` (${prev.suppressed} similar reports suppressed)` : '';
    // Bound the map: causes are low-cardinality by design, but never let it grow without limit.
    if (!prev && s.last.size >= 1000) s.last.clear();
    s.last.set(cause, { at: now, suppressed: 0 });
    // Messages from an adapter already name their package (`@tracewire/express: …`).
    diag[level](`${message.startsWith('@tracewire/') ? '' : 'tracewire: '}${message}${suffix}`);
  } catch {
    // reporting must never throw
  }
}

/** Test helper: forget previous reports. */
export function resetReports(): void {
  state().last.clear();
}

/**
 * Run a user-supplied function (hook, name callback, predicate) fenced: a throw is reported through
 * `diag` (rate limited, keyed by `what`) and `fallback` is returned instead.
 */
export function fenced<T, A = undefined>(what: string, fallback: T, fn: (arg: A) => T, arg?: A): T {
  try {
    // `arg` instead of a closure: a per-request hook is then called without allocating one.
    const result = fn(arg as A);
    // An async hook that rejects would be an unhandled rejection, which ends the process on
    // Node >= 15: catch it here too. Its own cause, so an earlier sync throw does not hide it.
    if (
      result !== null &&
      typeof result === 'object' &&
      typeof (result as { then?: unknown }).then === 'function'
    ) {
      (result as unknown as PromiseLike<unknown>).then(undefined, (err: unknown) =>
        report(`hook:${what}:rejected`, `${what} rejected and was ignored: ${errorMessage(err)}`),
      );
    }
    return result;
  } catch (err) {
    report(
      `hook:${what}`,
      `${what} threw and was ignored: ${err instanceof Error ? err.message : String(err)}`,
    );
    return fallback;
  }
}

/** The message of a thrown value, for reports; never throws (even for hostile `toString`s). */
export function errorMessage(err: unknown): string {
  try {
    return err instanceof Error ? err.message : String(err);
  } catch {
    return 'unprintable error';
  }
}

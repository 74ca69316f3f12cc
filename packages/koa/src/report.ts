import { diag } from '@opentelemetry/api';

/** Shared with every copy of this package (CJS and ESM builds can both be loaded): one report per cause per interval. */
const STATE = Symbol.for('tracewire.koa.report');
const INTERVAL_MS = 30_000;

/**
 * Report a tracing problem through `diag`, at most once per `cause` per 30 s (DESIGN.md: telemetry
 * problems go to `diag`, never to the request). Never throws.
 */
export function report(cause: string, message: string, level: 'warn' | 'debug' = 'warn'): void {
  try {
    const g = globalThis as { [STATE]?: Map<string, number> };
    let last = g[STATE];
    if (last === undefined) {
      last = new Map();
      g[STATE] = last;
    }
    const now = Date.now();
    const prev = last.get(cause);
    if (prev !== undefined && now - prev < INTERVAL_MS) return;
    if (prev === undefined && last.size >= 200) last.clear();
    last.set(cause, now);
    diag[level](`@tracewire/koa: ${message}`);
  } catch {
    // reporting must never throw
  }
}

export function errorMessage(err: unknown): string {
  try {
    return err instanceof Error ? err.message : String(err);
  } catch {
    return 'unprintable error';
  }
}

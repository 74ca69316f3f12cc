/**
 * Suppressing tracing for the exporter's own requests. The key is the one `@opentelemetry/core`
 * uses (`createContextKey` returns `Symbol.for(description)`), so official instrumentations
 * (`@opentelemetry/instrumentation-http`, undici) skip these requests too, and tracewire's own
 * outgoing-request tracing must check `isTracingSuppressed(context.active())`. Without this, every
 * export would create a CLIENT span that is exported by the next export, forever.
 */
import type { Context } from '@opentelemetry/api';
import { createContextKey } from '../api.js';

export const SUPPRESS_TRACING_KEY = createContextKey('OpenTelemetry SDK Context Key SUPPRESS_TRACING');

/**
 * Returns a context in which tracing is suppressed (same key as `@opentelemetry/core`).
 *
 * @example
 * ```ts
 * import { context } from '@opentelemetry/api';
 * context.with(suppressTracing(context.active()), () => fetch(url)); // not traced
 * ```
 */
export function suppressTracing(ctx: Context): Context {
  return ctx.setValue(SUPPRESS_TRACING_KEY, true);
}

/**
 * Whether tracing is suppressed in `ctx` (by tracewire or by `@opentelemetry/core`).
 *
 * @example
 * ```ts
 * if (isTracingSuppressed(context.active())) return; // do not create a span
 * ```
 */
export function isTracingSuppressed(ctx: Context): boolean {
  return ctx.getValue(SUPPRESS_TRACING_KEY) === true;
}

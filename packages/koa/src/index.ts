/**
 * @tracewire/koa: one-line OpenTelemetry tracing middleware for Koa 2 and 3 and @koa/router.
 * Exports are by name (STYLE.md 1).
 */
export { tracewire } from './middleware.js';
export type { KoaContextLike, KoaNext, TracewireMiddleware } from './middleware.js';
export type { KoaTracewireOptions } from './options.js';

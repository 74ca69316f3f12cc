/**
 * @tracewire/express: one-line OpenTelemetry tracing middleware for Express 4 and 5.
 * Exports are by name (STYLE.md 1).
 */
export { recordErrors, tracewire } from './middleware.js';
export type { NextFunction, RecordErrorsMiddleware, TracewireMiddleware } from './middleware.js';
export type { ExpressTracewireOptions } from './options.js';

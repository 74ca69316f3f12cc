import type { HttpServerTracingOptions } from '@tracewire/core';

/**
 * Options of `tracewire()` for Koa: everything the core HTTP server lifecycle offers, plus
 * per-middleware spans.
 *
 * @example
 * ```ts
 * app.use(tracewire({ ignore: ['/healthz'], captureHeaders: { request: ['x-request-id'] } }));
 * ```
 */
export interface KoaTracewireOptions extends HttpServerTracingOptions {
  /**
   * Record one INTERNAL span per application middleware registered after `tracewire()`, named after
   * the function, from its call until the promise it returns settles. Koa middleware is an onion, so
   * each span contains the spans of the middleware downstream of it. tracewire runs the rest of
   * `app.middleware` itself to do this (nothing of Koa is patched); routes inside @koa/router are
   * not split further. No environment variable. Default: `false`.
   */
  middlewareSpans?: boolean;
}

export interface NormalisedOptions {
  readonly lifecycle: HttpServerTracingOptions;
  readonly middlewareSpans: boolean;
}

/** Validate what is ours (the lifecycle validates the rest, with the same `TypeError` style). */
export function normaliseOptions(options: KoaTracewireOptions | undefined): NormalisedOptions {
  if (options === undefined) return { lifecycle: {}, middlewareSpans: false };
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new TypeError(
      `tracewire: options must be an object, got ${options === null ? 'null' : Array.isArray(options) ? 'an array' : typeof options}`,
    );
  }
  const { middlewareSpans, ...lifecycle } = options;
  if (middlewareSpans !== undefined && typeof middlewareSpans !== 'boolean') {
    throw new TypeError(
      `tracewire: option "middlewareSpans" must be a boolean, got ${typeof middlewareSpans}`,
    );
  }
  return { lifecycle, middlewareSpans: middlewareSpans === true };
}

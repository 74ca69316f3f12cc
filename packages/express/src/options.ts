import type { HttpServerTracingOptions } from '@tracewire/core';

/**
 * Options of `tracewire()` for Express: everything the core HTTP server lifecycle offers, plus
 * per-middleware spans.
 *
 * @example
 * ```ts
 * app.use(tracewire({ ignore: ['/healthz'], captureHeaders: { request: ['x-request-id'] } }));
 * ```
 */
export interface ExpressTracewireOptions extends HttpServerTracingOptions {
  /**
   * Record one INTERNAL child span per middleware and route handler, named after the function
   * (`jsonParser`, `getUser`, `<anonymous>`), from the moment Express calls it until it hands over
   * (calls `next`), its promise settles, or the response ends. Needs Express 5 (its `router` >= 2.3
   * publishes these events on `diagnostics_channel`); on Express 4 it is reported once through `diag`
   * and has no effect, because seeing Express 4 middleware would need patching it.
   * No environment variable. Default: `false`.
   */
  middlewareSpans?: boolean;
}

export interface NormalisedOptions {
  readonly lifecycle: HttpServerTracingOptions;
  readonly middlewareSpans: boolean;
}

/** Validate what is ours (the lifecycle validates the rest, with the same `TypeError` style). */
export function normaliseOptions(options: ExpressTracewireOptions | undefined): NormalisedOptions {
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

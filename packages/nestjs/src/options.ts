import { createHttpServerTracing, type HttpServerTracingOptions } from '@tracewire/core';

/**
 * The package version, reported as the instrumentation scope version. Kept equal to package.json by a test.
 * @example console.log(`@tracewire/nestjs ${VERSION}`);
 */
export const VERSION = '0.1.0';
/**
 * The instrumentation scope of the spans `@Traced()` starts.
 * @example spans.filter((s) => s.instrumentationScope.name === SCOPE_NAME)
 */
export const SCOPE_NAME = '@tracewire/nestjs';

/**
 * Options of {@link TracewireModule}: everything the core HTTP server lifecycle offers
 * (`ignore`, `requestHook`, `responseHook`, `spanName`, `captureHeaders`, `redactQueryKeys`,
 * `tracerProvider`), passed unchanged to `@tracewire/express` or `@tracewire/fastify` underneath.
 * @example
 * ```ts
 * const options: TracewireNestOptions = { ignore: ['/api/health'], captureHeaders: { request: ['x-request-id'] } };
 * TracewireModule.forRoot(options);
 * ```
 */
export interface TracewireNestOptions extends HttpServerTracingOptions {
  /**
   * Record the exceptions Nest hands to its exception filters during a request (from middleware,
   * guards, pipes, interceptors and handlers) as `exception` events on the request span, with their
   * class as `error.type` on 5xx. A global exception filter does it without handling any exception
   * (your filters still answer) and costs nothing until an exception is thrown. Exceptions that a
   * controller- or method-level `@UseFilters()` filter answers are not seen (see docs/nestjs.md).
   * `false` installs no filter: `error.type` on 5xx is then the status code. No environment
   * variable. With `forRootAsync()`, set it on the async options (it decides which providers exist).
   * Default: `true`.
   */
  recordExceptions?: boolean;
}

/**
 * Injection token of the resolved options (what `forRoot` got or `forRootAsync`'s factory returned).
 * @example constructor(@Inject(TRACEWIRE_OPTIONS) options: TracewireNestOptions) {}
 */
export const TRACEWIRE_OPTIONS = Symbol.for('tracewire.nestjs.options');

/**
 * Validates options once, when the module is configured: a bad option is a `TypeError` naming it,
 * thrown from `forRoot()` (or from `NestFactory.create()` for `forRootAsync()`).
 */
export function validateOptions(options: unknown): TracewireNestOptions {
  if (options === undefined || options === null) return {};
  if (typeof options !== 'object' || Array.isArray(options)) {
    throw new TypeError(
      `tracewire: TracewireModule options must be an object, got ${Array.isArray(options) ? 'an array' : typeof options}`,
    );
  }
  const { recordExceptions, ...lifecycle } = options as TracewireNestOptions;
  if (recordExceptions !== undefined && typeof recordExceptions !== 'boolean') {
    throw new TypeError(
      `tracewire: option "recordExceptions" must be a boolean, got ${typeof recordExceptions}`,
    );
  }
  // The core owns the rules; creating a lifecycle validates and normalises every option.
  createHttpServerTracing(lifecycle, { name: SCOPE_NAME, version: VERSION });
  return options as TracewireNestOptions;
}

/** The options the Express / Fastify adapter underneath takes (everything but Nest's own). */
export function lifecycleOptions(options: TracewireNestOptions): HttpServerTracingOptions {
  if (options.recordExceptions === undefined) return options;
  const { recordExceptions: _nestOnly, ...lifecycle } = options;
  return lifecycle;
}

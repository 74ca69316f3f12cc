/**
 * @tracewire/fastify: OpenTelemetry tracing for Fastify 4 and 5 in one `app.register(tracewire)`.
 */
export { SCOPE_NAME, tracewire, VERSION } from './plugin.js';
export type { TracewireFastifyOptions, TracewireRequestContext } from './plugin.js';
export type { IgnoreMatcher } from '@tracewire/core';

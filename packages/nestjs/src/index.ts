/**
 * @tracewire/nestjs: OpenTelemetry tracing for NestJS 10, 11 and 12 (Express and Fastify platforms)
 * in one `TracewireModule.forRoot()`.
 */
export {
  ATTR_NESTJS_CONTROLLER,
  ATTR_NESTJS_HANDLER,
  TracewireGuard,
  TracewireInterceptor,
} from './interceptor.js';
export { TracewireExceptionObserver } from './exceptions.js';
export { TRACEWIRE_SETUP, TracewireModule } from './module.js';
export { SCOPE_NAME, TRACEWIRE_OPTIONS, VERSION } from './options.js';
export { Traced } from './traced.js';
export type { TracewireModuleAsyncOptions } from './module.js';
export type { TracewireNestOptions } from './options.js';
export type { TracewireSetup } from './setup.js';
export type { IgnoreMatcher } from '@tracewire/core';

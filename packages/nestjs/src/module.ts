/**
 * `TracewireModule`: one import traces every HTTP request of a Nest application, on Express and on
 * Fastify. A dynamic, global module built from plain provider definitions (factories with explicit
 * `inject`), so it needs no decorator metadata from the build that compiled it.
 */
import type { DynamicModule, FactoryProvider, ModuleMetadata } from '@nestjs/common';
import * as api from '@opentelemetry/api';
import { APP_GUARD, APP_INTERCEPTOR, HttpAdapterHost } from '@nestjs/core';
import { TracewireGuard, TracewireInterceptor } from './interceptor.js';
import { TRACEWIRE_OPTIONS, type TracewireNestOptions, validateOptions } from './options.js';
import { applyTracewire, type HttpAdapterLike } from './setup.js';

// Read once: in the CommonJS build each `api.x` would be a load from the API's exports object,
// which V8 keeps in dictionary mode (see @tracewire/core's src/api.ts).
const { diag } = api;

/**
 * Injection token of the setup provider (resolves to `{ platform }` once tracing is in place).
 * @example app.get(TRACEWIRE_SETUP) // { platform: 'fastify' }
 */
export const TRACEWIRE_SETUP = Symbol.for('tracewire.nestjs.setup');

/** `TracewireModule.forRootAsync()` options: a factory (with its dependencies) that returns the options. */
export interface TracewireModuleAsyncOptions {
  /** Modules exporting the providers `inject` names (e.g. `ConfigModule`). */
  imports?: ModuleMetadata['imports'];
  /** Returns the options, or a promise of them. */
  useFactory: (...args: never[]) => TracewireNestOptions | Promise<TracewireNestOptions>;
  /** Providers passed to `useFactory`, in order (e.g. `[ConfigService]`). */
  inject?: FactoryProvider['inject'];
  /**
   * See {@link TracewireNestOptions.recordExceptions}. Set here, not in the factory's result: it
   * decides which providers the module has, before the factory runs. Default: `true`.
   */
  recordExceptions?: boolean;
}

function setupProvider(): FactoryProvider {
  return {
    provide: TRACEWIRE_SETUP,
    // Runs while `NestFactory.create()` instantiates providers: the HTTP adapter exists and Nest has
    // registered neither its body parsers, nor middleware, nor routes on Express yet.
    useFactory: (options: TracewireNestOptions, host: HttpAdapterHost | undefined) =>
      applyTracewire(options, host?.httpAdapter as unknown as HttpAdapterLike | undefined),
    inject: [TRACEWIRE_OPTIONS, { token: HttpAdapterHost, optional: true }],
  };
}

/**
 * The Nest enhancer: the interceptor (controller, handler and exceptions) or, with
 * `recordExceptions: false`, the much cheaper guard (controller and handler only).
 */
function enhancerProvider(recordExceptions: boolean | undefined): FactoryProvider {
  return recordExceptions === false
    ? { provide: APP_GUARD, useFactory: () => new TracewireGuard() }
    : { provide: APP_INTERCEPTOR, useFactory: () => new TracewireInterceptor() };
}

/**
 * Traces every HTTP request of the application: one SERVER span per request named
 * `GET /api/v1/users/:id` (global prefix and URI version included), with `nestjs.controller` and
 * `nestjs.handler`, the status code Nest sent, and exceptions from pipes, interceptors and handlers.
 * Import it once, in the root module. Spans go to whatever SDK is registered through
 * `@opentelemetry/api` (tracewire's `start()` or the official SDK).
 *
 * @example
 * ```ts
 * import { Module } from '@nestjs/common';
 * import { TracewireModule } from '@tracewire/nestjs';
 *
 * @Module({ imports: [TracewireModule.forRoot({ ignore: ['/health'] })] })
 * export class AppModule {}
 * ```
 */
// biome-ignore lint/complexity/noStaticOnlyClass: Nest's convention for configurable modules (`XModule.forRoot()`); the class is the module token
export class TracewireModule {
  /**
   * Configure with options known up front. Throws a `TypeError` naming a bad option.
   * @example
   * ```ts
   * TracewireModule.forRoot({ captureHeaders: { request: ['x-request-id'] } })
   * ```
   */
  static forRoot(options?: TracewireNestOptions): DynamicModule {
    const valid = validateOptions(options);
    return {
      module: TracewireModule,
      global: true,
      providers: [
        { provide: TRACEWIRE_OPTIONS, useValue: valid },
        setupProvider(),
        enhancerProvider(valid.recordExceptions),
      ],
      exports: [TRACEWIRE_OPTIONS],
    };
  }

  /**
   * Configure from other providers (e.g. `ConfigService`). The factory's result is validated like
   * `forRoot`'s options: a bad option makes `NestFactory.create()` reject with a `TypeError` naming it.
   * @example
   * ```ts
   * TracewireModule.forRootAsync({
   *   imports: [ConfigModule],
   *   inject: [ConfigService],
   *   useFactory: (config: ConfigService) => ({ ignore: [config.get('HEALTH_PATH')] }),
   * })
   * ```
   */
  static forRootAsync(options: TracewireModuleAsyncOptions): DynamicModule {
    if (typeof options !== 'object' || options === null || typeof options.useFactory !== 'function') {
      throw new TypeError(
        'tracewire: TracewireModule.forRootAsync() needs an object with a "useFactory" function',
      );
    }
    if (options.inject !== undefined && !Array.isArray(options.inject)) {
      throw new TypeError('tracewire: TracewireModule.forRootAsync() option "inject" must be an array');
    }
    if (options.recordExceptions !== undefined && typeof options.recordExceptions !== 'boolean') {
      throw new TypeError(
        'tracewire: TracewireModule.forRootAsync() option "recordExceptions" must be a boolean',
      );
    }
    const recordExceptions = options.recordExceptions;
    const factory = options.useFactory as (
      ...args: unknown[]
    ) => TracewireNestOptions | Promise<TracewireNestOptions>;
    return {
      module: TracewireModule,
      global: true,
      imports: options.imports ?? [],
      providers: [
        {
          provide: TRACEWIRE_OPTIONS,
          useFactory: async (...args: unknown[]) => {
            const resolved = validateOptions(await factory(...args));
            if (
              resolved.recordExceptions !== undefined &&
              resolved.recordExceptions !== (recordExceptions ?? true)
            ) {
              diag.warn(
                'tracewire: "recordExceptions" returned by the forRootAsync() factory is ignored; set it on the forRootAsync() options',
              );
            }
            return resolved;
          },
          inject: options.inject ?? [],
        },
        setupProvider(),
        enhancerProvider(recordExceptions),
      ],
      exports: [TRACEWIRE_OPTIONS],
    };
  }
}

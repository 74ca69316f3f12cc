/**
 * `TracewireModule`: one import traces every HTTP request of a Nest application, on Express and on
 * Fastify. A dynamic, global module built from plain provider definitions (factories with explicit
 * `inject`, and the module's own constructor parameters declared with `Inject()` called by hand at
 * the bottom), so it needs no decorator metadata from the build that compiled it.
 */
import {
  type DynamicModule,
  type FactoryProvider,
  Inject,
  type ModuleMetadata,
  type NestModule,
  type Provider,
} from '@nestjs/common';
import * as api from '@opentelemetry/api';
import { APP_FILTER, APP_GUARD, HttpAdapterHost, ModuleRef } from '@nestjs/core';
import { TracewireExceptionObserver } from './exceptions.js';
import { TracewireGuard } from './interceptor.js';
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

/** Injection token of the exception observer the module installed, if any (see {@link TracewireModule.configure}). */
const TRACEWIRE_EXCEPTIONS = Symbol.for('tracewire.nestjs.exceptions');

interface Installed {
  readonly observer: TracewireExceptionObserver | undefined;
}

/**
 * The Nest enhancers: a global guard (names the controller and handler on the span) and, unless
 * `recordExceptions: false`, a global exception filter that records exceptions without handling any.
 * Neither is an interceptor: once one exists, Nest runs every request through its RxJS interceptor
 * chain (docs/nestjs.md).
 */
function enhancerProviders(recordExceptions: boolean | undefined): Provider[] {
  const installed: Installed = {
    observer: recordExceptions === false ? undefined : new TracewireExceptionObserver(),
  };
  const providers: Provider[] = [
    { provide: APP_GUARD, useFactory: () => new TracewireGuard() },
    { provide: TRACEWIRE_EXCEPTIONS, useValue: installed },
  ];
  if (installed.observer !== undefined) {
    providers.push({
      provide: APP_FILTER,
      useFactory: (i: Installed) => i.observer,
      inject: [TRACEWIRE_EXCEPTIONS],
    });
  }
  return providers;
}

/** What `TracewireModule.configure()` reads of Nest's internals (stable across Nest 10, 11 and 12). */
interface GlobalFilters {
  getGlobalFilters(): unknown[];
  addGlobalFilter(filter: unknown): void;
}

/** The application's global-filter list, behind `ModuleRef`; `undefined` if this Nest keeps it elsewhere. */
function globalFiltersOf(moduleRef: ModuleRef | undefined): GlobalFilters | undefined {
  const config = (moduleRef as unknown as { container?: { applicationConfig?: Partial<GlobalFilters> } })
    ?.container?.applicationConfig;
  return typeof config?.getGlobalFilters === 'function' && typeof config.addGlobalFilter === 'function'
    ? (config as GlobalFilters)
    : undefined;
}

/**
 * Traces every HTTP request of the application: one SERVER span per request named
 * `GET /api/v1/users/:id` (global prefix and URI version included), with `nestjs.controller` and
 * `nestjs.handler`, the status code Nest sent, and the exceptions Nest's filters see (from
 * middleware, guards, pipes, interceptors and handlers). Import it once, in the root module. Spans
 * go to whatever SDK is registered through `@opentelemetry/api` (tracewire's `start()` or the
 * official SDK).
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
export class TracewireModule implements NestModule {
  /** @internal Nest creates the module (its constructor parameters are injected). */
  constructor(
    private readonly moduleRef: ModuleRef | undefined,
    private readonly installed: Installed | undefined,
  ) {}

  /**
   * Nest calls this while it initialises the application (`app.init()` or `listen()`), after `main.ts`
   * has added its own global filters and before it builds the exception handling of any route. Nest
   * tries global filters from the last added to the first and stops at the first that matches, so a
   * catch-all filter added with `app.useGlobalFilters()` would otherwise hide every exception from
   * the observer. Added again here, last, it sees them first (and still handles none). If this Nest
   * keeps its filters elsewhere, the observer stays where `APP_FILTER` put it.
   * @internal
   */
  configure(): void {
    const observer = this.installed?.observer;
    if (observer === undefined) return;
    const config = globalFiltersOf(this.moduleRef);
    if (config === undefined) {
      diag.warn(
        'tracewire: this Nest keeps its global filters where tracewire does not look; exceptions answered by filters added with app.useGlobalFilters() are not recorded',
      );
      return;
    }
    const filters = config.getGlobalFilters();
    if (filters[filters.length - 1] !== observer) config.addGlobalFilter(observer);
  }

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
        ...enhancerProviders(valid.recordExceptions),
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
        ...enhancerProviders(recordExceptions),
      ],
      exports: [TRACEWIRE_OPTIONS],
    };
  }
}

// The constructor's injection, declared without decorator metadata from the build (see the top).
Inject(ModuleRef)(TracewireModule, undefined, 0);
Inject(TRACEWIRE_EXCEPTIONS)(TracewireModule, undefined, 1);

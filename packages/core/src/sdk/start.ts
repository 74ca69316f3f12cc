/**
 * `start()`: the whole SDK set up in one call (tracer provider, context manager, propagator,
 * exporter, outgoing-request tracing, flush on SIGTERM/SIGINT).
 *
 * Precedence (`configuration/sdk-environment-variables.md`): options in code win over `OTEL_*`
 * variables, which win over the defaults. Bad options in code throw a `TypeError` naming the
 * option; bad `OTEL_*` values are warned about through `diag` and ignored.
 *
 * The handle lives on `globalThis[Symbol.for('tracewire.sdk')]`, so the CJS and the ESM build of
 * @tracewire/core loaded in one process still share one SDK (dual package hazard).
 */
import type { Attributes, TextMapPropagator, TracerProvider } from '@opentelemetry/api';
import { context, DiagConsoleLogger, DiagLogLevel, diag, propagation, trace } from '../api.js';
import { type OutgoingTracingOptions, enableOutgoingTracing } from '../client/index.js';
import { BatchSpanProcessor, type BatchSpanProcessorOptions } from '../export/batch-processor.js';
import { ConsoleSpanExporter } from '../export/console-exporter.js';
import { OtlpHttpExporter, type OtlpHttpExporterOptions } from '../export/otlp-http-exporter.js';
import { SimpleSpanProcessor } from '../export/simple-processor.js';
import { KNOWN_PROPAGATOR_NAMES, propagatorFromNames } from '../propagation/index.js';
import { AsyncLocalStorageContextManager } from './context-manager.js';
import { envBoolean, envEnum, envList, envNumber } from './env.js';
import type { IdGenerator } from './id-generator.js';
import { validateSpanLimits } from './limits.js';
import { report } from './report.js';
import { detectResource } from './resource.js';
import { isSampler, SAMPLER_NAMES, type Sampler, type SamplerName, samplerFromName } from './samplers.js';
import { samplerFromEnv, TracewireTracerProvider } from './tracer-provider.js';
import type { SpanExporter, SpanLimits, SpanProcessor } from './types.js';

type Env = Record<string, string | undefined>;

/** Names accepted by `OTEL_PROPAGATORS` and `start({ propagators })`. */
export type PropagatorName = 'tracecontext' | 'baggage' | 'b3' | 'b3multi' | 'none';

/** Names accepted by `OTEL_TRACES_EXPORTER` and `start({ traceExporter })`. */
export type TraceExporterName = 'otlp' | 'console' | 'none';

/**
 * Options of {@link start}. Every option is optional; each says which `OTEL_*` variable sets it when
 * it is not given, and its default. Options win over the variables.
 *
 * @example
 * ```ts
 * start({
 *   serviceName: 'checkout',
 *   sampler: 'parentbased_traceidratio',
 *   samplerArg: 0.1,
 *   otlp: { url: 'https://collector.internal:4318/v1/traces', compression: 'gzip' },
 * });
 * ```
 */
export interface StartOptions {
  /** `service.name`. Env: `OTEL_SERVICE_NAME` (wins over `OTEL_RESOURCE_ATTRIBUTES`). Default `'unknown_service:node'`. */
  serviceName?: string;
  /** `service.version`. Env: `service.version` in `OTEL_RESOURCE_ATTRIBUTES`. Default: none. */
  serviceVersion?: string;
  /**
   * More resource attributes (`deployment.environment.name`, ...), merged over
   * `OTEL_RESOURCE_ATTRIBUTES`. `serviceName`/`serviceVersion` win over the same keys here. Default: none.
   */
  resourceAttributes?: Attributes;
  /**
   * A `Sampler` object, or a sampler name. Env: `OTEL_TRACES_SAMPLER`. Default `'parentbased_always_on'`.
   */
  sampler?: Sampler | SamplerName;
  /**
   * The ratio in [0, 1] for `'traceidratio'` and `'parentbased_traceidratio'`.
   * Env: `OTEL_TRACES_SAMPLER_ARG`. Default `1`.
   */
  samplerArg?: number;
  /**
   * Propagator names (`'tracecontext'`, `'baggage'`, `'b3'` (single header), `'b3multi'`, `'none'`),
   * or a `TextMapPropagator`. Env: `OTEL_PROPAGATORS`. Default `['tracecontext', 'baggage']`.
   */
  propagators?: readonly PropagatorName[] | TextMapPropagator;
  /**
   * Where spans go: `'otlp'` (OTLP/HTTP, batched), `'console'` (printed as they end), `'none'`, or a
   * `SpanExporter` object (batched). Env: `OTEL_TRACES_EXPORTER`. Default `'otlp'`.
   */
  traceExporter?: TraceExporterName | SpanExporter;
  /**
   * Span processors to use instead of the default batch processor + exporter (tracewire's or the
   * official SDK's). Cannot be combined with `traceExporter`, `otlp` or `batch`. Default: none.
   */
  spanProcessors?: SpanProcessor[];
  /**
   * Options of the OTLP exporter (`url`, `headers`, `compression`, `timeoutMillis`, TLS...).
   * Env: `OTEL_EXPORTER_OTLP_*` for each one not given. See docs/exporting.md.
   */
  otlp?: OtlpHttpExporterOptions;
  /**
   * Options of the batch span processor (`maxQueueSize`, `maxExportBatchSize`,
   * `scheduledDelayMillis`, `exportTimeoutMillis`). Env: `OTEL_BSP_*`. Defaults 2048, 512, 5000, 30000.
   */
  batch?: BatchSpanProcessorOptions;
  /**
   * Span limits. Env: `OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT`/`OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT`
   * (default unlimited), `OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT`/`OTEL_ATTRIBUTE_COUNT_LIMIT`,
   * `OTEL_SPAN_EVENT_COUNT_LIMIT`, `OTEL_SPAN_LINK_COUNT_LIMIT`, `OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT`,
   * `OTEL_LINK_ATTRIBUTE_COUNT_LIMIT` (default 128 each).
   */
  spanLimits?: SpanLimits;
  /**
   * Outgoing requests (fetch/undici, node:http): options of `enableOutgoingTracing`, or `false` to
   * leave them alone. Default `{}` (CLIENT spans; trace headers sent to internal hosts only). See
   * docs/outgoing-requests.md.
   */
  outgoing?: OutgoingTracingOptions | false;
  /**
   * On SIGTERM/SIGINT, flush spans before the process ends. When tracewire's listener is the only
   * one, the process then ends by the same signal, as it would without tracewire; when the app has
   * its own listeners, tracewire only flushes and the app decides. Default `true`.
   */
  shutdownOnSignals?: boolean;
  /**
   * Longest the signal handler waits for the flush, in ms. Env: `OTEL_EXPORTER_OTLP_TRACES_TIMEOUT`,
   * then `OTEL_EXPORTER_OTLP_TIMEOUT` (the export deadline). Default `10000`.
   */
  shutdownTimeoutMillis?: number;
  /** Set up nothing: the app runs untraced. Env: `OTEL_SDK_DISABLED=true`. Default `false`. */
  disabled?: boolean;
  /** Trace and span id generator. Default: crypto-random ids (new traces carry the W3C `random` flag). */
  idGenerator?: IdGenerator;
  /** Environment to read `OTEL_*` from. Default `process.env`. */
  env?: Env;
}

/**
 * The handle `start()` returns.
 *
 * @example
 * ```ts
 * const tracewire = start();
 * await tracewire.shutdown(); // flush and stop
 * ```
 */
export interface Tracewire {
  /** The registered tracer provider (the API's no-op provider when disabled). */
  readonly tracerProvider: TracerProvider;
  /** Whether tracing is on (false when `disabled` or `OTEL_SDK_DISABLED=true`). */
  readonly enabled: boolean;
  /** Export every ended span now. Never rejects. */
  forceFlush(): Promise<void>;
  /** Flush, stop exporting, remove the signal listeners and unregister from the API. Never rejects. */
  shutdown(): Promise<void>;
}

const STATE = Symbol.for('tracewire.sdk');

interface SdkState {
  handle: Tracewire;
}

function globalState(): { [STATE]?: SdkState } {
  return globalThis as { [STATE]?: SdkState };
}

const OPTION_NAMES = new Set<string>([
  'serviceName',
  'serviceVersion',
  'resourceAttributes',
  'sampler',
  'samplerArg',
  'propagators',
  'traceExporter',
  'spanProcessors',
  'otlp',
  'batch',
  'spanLimits',
  'outgoing',
  'shutdownOnSignals',
  'shutdownTimeoutMillis',
  'disabled',
  'idGenerator',
  'env',
]);

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return typeof v;
}

function bad(option: string, expected: string, got: unknown): never {
  throw new TypeError(`tracewire: start() option "${option}" must be ${expected}, got ${describe(got)}`);
}

function isPropagator(v: unknown): v is TextMapPropagator {
  const p = v as TextMapPropagator | null;
  return (
    typeof p === 'object' &&
    p !== null &&
    typeof p.inject === 'function' &&
    typeof p.extract === 'function' &&
    typeof p.fields === 'function'
  );
}

function isExporter(v: unknown): v is SpanExporter {
  const e = v as SpanExporter | null;
  return (
    typeof e === 'object' && e !== null && typeof e.export === 'function' && typeof e.shutdown === 'function'
  );
}

/** Checks every option once, before anything is set up. */
function validate(o: StartOptions): void {
  if (o === null || typeof o !== 'object' || Array.isArray(o)) bad('options', 'an object', o);
  for (const key of Object.keys(o)) {
    if (!OPTION_NAMES.has(key)) {
      throw new TypeError(
        `tracewire: start() got an unknown option "${key}" (known: ${[...OPTION_NAMES].join(', ')})`,
      );
    }
  }
  const str = (k: 'serviceName' | 'serviceVersion') => {
    const v = o[k];
    if (v !== undefined && (typeof v !== 'string' || v === '')) bad(k, 'a non-empty string', v);
  };
  str('serviceName');
  str('serviceVersion');
  const obj = (k: keyof StartOptions) => {
    const v = o[k];
    if (v !== undefined && (v === null || typeof v !== 'object' || Array.isArray(v))) bad(k, 'an object', v);
  };
  obj('resourceAttributes');
  obj('otlp');
  obj('batch');
  obj('env');
  if (o.sampler !== undefined && !isSampler(o.sampler) && !SAMPLER_NAMES.includes(o.sampler as SamplerName)) {
    bad('sampler', `a Sampler or one of ${SAMPLER_NAMES.map((n) => `'${n}'`).join(', ')}`, o.sampler);
  }
  if (o.samplerArg !== undefined) {
    if (typeof o.samplerArg !== 'number' || !(o.samplerArg >= 0 && o.samplerArg <= 1)) {
      bad('samplerArg', 'a number in [0, 1]', o.samplerArg);
    }
    if (o.sampler !== undefined && o.sampler !== 'traceidratio' && o.sampler !== 'parentbased_traceidratio') {
      bad('samplerArg', "used with sampler 'traceidratio' or 'parentbased_traceidratio'", o.sampler);
    }
  }
  if (o.propagators !== undefined && !isPropagator(o.propagators)) {
    const names = o.propagators as unknown;
    if (
      !Array.isArray(names) ||
      !names.every((n) => typeof n === 'string' && (KNOWN_PROPAGATOR_NAMES as readonly string[]).includes(n))
    ) {
      bad(
        'propagators',
        `a TextMapPropagator or an array of ${KNOWN_PROPAGATOR_NAMES.map((n) => `'${n}'`).join(', ')}`,
        names,
      );
    }
  }
  const te = o.traceExporter;
  if (te !== undefined && te !== 'otlp' && te !== 'console' && te !== 'none' && !isExporter(te)) {
    bad('traceExporter', "'otlp', 'console', 'none' or a SpanExporter (export() and shutdown())", te);
  }
  if (o.spanProcessors !== undefined) {
    if (!Array.isArray(o.spanProcessors))
      bad('spanProcessors', 'an array of SpanProcessor', o.spanProcessors);
    o.spanProcessors.forEach((p, i) => {
      if (
        !p ||
        typeof p.onStart !== 'function' ||
        typeof p.onEnd !== 'function' ||
        typeof p.shutdown !== 'function'
      ) {
        bad(`spanProcessors[${i}]`, 'a SpanProcessor (onStart, onEnd, forceFlush, shutdown)', p);
      }
    });
    for (const k of ['traceExporter', 'otlp', 'batch'] as const) {
      if (o[k] !== undefined) {
        throw new TypeError(
          `tracewire: start() option "${k}" cannot be combined with "spanProcessors" (the processors replace the default exporter)`,
        );
      }
    }
  }
  if (o.otlp !== undefined && te !== undefined && te !== 'otlp') {
    throw new TypeError(
      `tracewire: start() option "otlp" only applies with traceExporter 'otlp', got ${describe(te)}`,
    );
  }
  if (o.batch !== undefined && (te === 'console' || te === 'none')) {
    throw new TypeError(
      `tracewire: start() option "batch" does not apply with traceExporter ${describe(te)}`,
    );
  }
  validateSpanLimits(o.spanLimits, 'spanLimits');
  if (
    o.outgoing !== undefined &&
    o.outgoing !== false &&
    (o.outgoing === null || typeof o.outgoing !== 'object')
  ) {
    bad('outgoing', 'an OutgoingTracingOptions object or false', o.outgoing);
  }
  for (const k of ['shutdownOnSignals', 'disabled'] as const) {
    if (o[k] !== undefined && typeof o[k] !== 'boolean') bad(k, 'a boolean', o[k]);
  }
  const t = o.shutdownTimeoutMillis;
  if (t !== undefined && (typeof t !== 'number' || !Number.isFinite(t) || t <= 0)) {
    bad('shutdownTimeoutMillis', 'a positive number of milliseconds', t);
  }
}

const LOG_LEVELS = ['none', 'error', 'warn', 'info', 'debug', 'verbose', 'all'] as const;

/** `OTEL_LOG_LEVEL`: when set, diag messages at that level and above go to the console. */
function applyLogLevel(env: Env): void {
  const level = envEnum('OTEL_LOG_LEVEL', LOG_LEVELS, env);
  if (level === undefined) {
    // Dropped spans, a dead collector and throwing hooks must be visible in production without any
    // setup, so warnings (rate limited) go to the console by default, unless the application has
    // registered a diag logger of its own: that one is kept. (`@opentelemetry/api` 1.x keeps the
    // registered logger on this global.)
    const api = (globalThis as Record<symbol, { diag?: unknown } | undefined>)[
      Symbol.for('opentelemetry.js.api.1')
    ];
    if (api?.diag === undefined) {
      diag.setLogger(new DiagConsoleLogger(), { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true });
    }
    return;
  }
  const map: Record<(typeof LOG_LEVELS)[number], DiagLogLevel> = {
    none: DiagLogLevel.NONE,
    error: DiagLogLevel.ERROR,
    warn: DiagLogLevel.WARN,
    info: DiagLogLevel.INFO,
    debug: DiagLogLevel.DEBUG,
    verbose: DiagLogLevel.VERBOSE,
    all: DiagLogLevel.ALL,
  };
  diag.setLogger(new DiagConsoleLogger(), { logLevel: map[level], suppressOverrideMessage: true });
}

function resolveSampler(o: StartOptions, env: Env): Sampler {
  if (isSampler(o.sampler)) return o.sampler;
  if (o.sampler !== undefined) {
    return samplerFromName(
      o.sampler,
      o.samplerArg ?? envNumber('OTEL_TRACES_SAMPLER_ARG', env, { min: 0, max: 1 }),
    );
  }
  if (o.samplerArg !== undefined) {
    // Ratio given in code, sampler name from the environment (or the default).
    const name = envEnum('OTEL_TRACES_SAMPLER', SAMPLER_NAMES, env) ?? 'parentbased_always_on';
    return samplerFromName(name, o.samplerArg);
  }
  return samplerFromEnv(env);
}

function resolvePropagator(o: StartOptions, env: Env): TextMapPropagator {
  if (o.propagators !== undefined) {
    return isPropagator(o.propagators) ? o.propagators : propagatorFromNames(o.propagators);
  }
  return propagatorFromNames(envList('OTEL_PROPAGATORS', env) ?? ['tracecontext', 'baggage']);
}

function resolveProcessors(o: StartOptions, env: Env): SpanProcessor[] {
  if (o.spanProcessors !== undefined) return o.spanProcessors;
  const te = o.traceExporter;
  if (te !== undefined && typeof te === 'object') return [new BatchSpanProcessor(te, o.batch ?? {})];
  let names: string[];
  if (te !== undefined) names = [te];
  else {
    names = envList('OTEL_TRACES_EXPORTER', env) ?? ['otlp'];
    if (names.length === 0) names = ['otlp'];
  }
  if (names.includes('none')) return [];
  const processors: SpanProcessor[] = [];
  const seen = new Set<string>();
  for (const name of names) {
    if (seen.has(name)) continue;
    seen.add(name);
    if (name === 'otlp') {
      processors.push(
        new BatchSpanProcessor(new OtlpHttpExporter({ ...(o.otlp ?? {}), env }), { ...(o.batch ?? {}), env }),
      );
    } else if (name === 'console') {
      // Printed as each span ends, as the official SDK does for the console exporter.
      processors.push(new SimpleSpanProcessor(new ConsoleSpanExporter()));
    } else {
      diag.warn(
        `tracewire: OTEL_TRACES_EXPORTER contains unsupported exporter "${name}" (otlp, console, none); ignoring it`,
      );
    }
  }
  return processors;
}

/**
 * Sets up tracing for the whole process: a {@link TracewireTracerProvider} registered as the global
 * tracer provider, an AsyncLocalStorage context manager, the propagators, OTLP export (batched),
 * CLIENT spans for outgoing requests, and a flush on SIGTERM/SIGINT. Call it once, before the app
 * handles requests. A second call warns and returns the first handle.
 *
 * @throws TypeError when an option is invalid (the message names it).
 *
 * @example
 * ```ts
 * import { start } from '@tracewire/core';
 *
 * const tracewire = start({ serviceName: 'checkout' });
 * // ... on your own shutdown path:
 * await tracewire.shutdown();
 * ```
 */
export function start(options: StartOptions = {}): Tracewire {
  validate(options);
  const g = globalState();
  const existing = g[STATE];
  if (existing !== undefined) {
    report('start:twice', 'start() was called more than once; the first SDK stays in place and is returned');
    return existing.handle;
  }
  const env = options.env ?? process.env;
  applyLogLevel(env);

  if (options.disabled ?? envBoolean('OTEL_SDK_DISABLED', env) ?? false) {
    const noop: Tracewire = {
      tracerProvider: trace.getTracerProvider(),
      enabled: false,
      forceFlush: () => Promise.resolve(),
      shutdown: () => {
        if (g[STATE]?.handle === noop) delete g[STATE];
        return Promise.resolve();
      },
    };
    g[STATE] = { handle: noop };
    return noop;
  }

  const resourceOptions: Parameters<typeof detectResource>[0] = { env };
  if (options.serviceName !== undefined) resourceOptions.serviceName = options.serviceName;
  if (options.serviceVersion !== undefined) resourceOptions.serviceVersion = options.serviceVersion;
  if (options.resourceAttributes !== undefined) resourceOptions.attributes = options.resourceAttributes;

  const providerOptions: ConstructorParameters<typeof TracewireTracerProvider>[0] = {
    resource: detectResource(resourceOptions),
    sampler: resolveSampler(options, env),
    spanProcessors: resolveProcessors(options, env),
    env,
  };
  if (options.spanLimits !== undefined) providerOptions.spanLimits = options.spanLimits;
  if (options.idGenerator !== undefined) providerOptions.idGenerator = options.idGenerator;
  const provider = new TracewireTracerProvider(providerOptions);
  const propagator = resolvePropagator(options, env);

  // Outgoing options are validated here (TypeError), before anything is registered globally.
  let disableOutgoing: (() => void) | undefined;
  try {
    disableOutgoing = options.outgoing === false ? undefined : enableOutgoingTracing(options.outgoing ?? {});
  } catch (err) {
    void provider.shutdown();
    throw err;
  }

  const contextManager = new AsyncLocalStorageContextManager().enable();
  const registered = {
    context: context.setGlobalContextManager(contextManager),
    trace: trace.setGlobalTracerProvider(provider),
    propagation: propagation.setGlobalPropagator(propagator),
  };
  for (const [what, ok] of Object.entries(registered)) {
    if (!ok) {
      diag.warn(
        `tracewire: another ${what === 'trace' ? 'tracer provider' : what === 'context' ? 'context manager' : 'propagator'} is already registered with @opentelemetry/api; tracewire's was not registered (is another OpenTelemetry SDK started?)`,
      );
    }
  }

  const timeoutMillis =
    options.shutdownTimeoutMillis ??
    options.otlp?.timeoutMillis ??
    envNumber('OTEL_EXPORTER_OTLP_TRACES_TIMEOUT', env, { min: 1 }) ??
    envNumber('OTEL_EXPORTER_OTLP_TIMEOUT', env, { min: 1 }) ??
    10_000;

  let shutdownPromise: Promise<void> | undefined;
  let removeSignals: (() => void) | undefined;
  const handle: Tracewire = {
    tracerProvider: provider,
    enabled: true,
    forceFlush: () => provider.forceFlush(),
    shutdown() {
      if (shutdownPromise !== undefined) return shutdownPromise;
      if (g[STATE]?.handle === handle) delete g[STATE];
      removeSignals?.();
      shutdownPromise = (async () => {
        try {
          disableOutgoing?.();
          await provider.shutdown();
        } catch (err) {
          report('start:shutdown', `shutdown failed: ${err instanceof Error ? err.message : String(err)}`);
        } finally {
          // Unregister only what this SDK registered, so start() can run again in this process.
          if (registered.trace) trace.disable();
          if (registered.propagation) propagation.disable();
          if (registered.context) context.disable();
        }
      })();
      return shutdownPromise;
    },
  };
  if (options.shutdownOnSignals ?? true) {
    removeSignals = installSignalHandlers(handle, timeoutMillis);
  }
  g[STATE] = { handle };
  return handle;
}

const SIGNALS = ['SIGTERM', 'SIGINT'] as const;

/**
 * On SIGTERM/SIGINT: when tracewire's listener is the only one, Node's default would end the
 * process, and merely adding a listener stops that. So tracewire removes its listeners, flushes
 * (bounded by `timeoutMillis`) and re-raises the same signal: the process ends exactly as it would
 * have without tracewire (same signal, same exit status). When the app listens too, the app owns
 * the exit: tracewire flushes and does nothing else. Returns the uninstall function.
 */
function installSignalHandlers(handle: Tracewire, timeoutMillis: number): () => void {
  const listeners = new Map<NodeJS.Signals, (signal: NodeJS.Signals) => void>();
  const uninstall = () => {
    for (const [sig, fn] of listeners) process.removeListener(sig, fn);
    listeners.clear();
  };
  for (const sig of SIGNALS) {
    const onSignal = (signal: NodeJS.Signals) => {
      const others = process.listeners(sig).filter((l) => l !== onSignal);
      if (others.length > 0) {
        void handle.forceFlush();
        return;
      }
      uninstall();
      let raised = false;
      const reraise = () => {
        if (raised) return;
        raised = true;
        clearTimeout(timer);
        process.kill(process.pid, signal);
      };
      // Deliberately not unref()ed: it bounds how long the flush may keep the process alive.
      const timer = setTimeout(reraise, timeoutMillis);
      handle.shutdown().then(reraise, reraise);
    };
    listeners.set(sig, onSignal);
    process.on(sig, onSignal);
  }
  return uninstall;
}

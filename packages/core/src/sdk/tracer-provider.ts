/**
 * The tracer provider (OpenTelemetry specification `trace/sdk.md`, "Tracer Provider"): owns the
 * resource, sampler, limits, id generator and span processors, resolved once at creation.
 */
import type { Attributes, TracerOptions, TracerProvider } from '@opentelemetry/api';
import { envEnum, envNumber } from './env.js';
import { type IdGenerator, RandomIdGenerator } from './id-generator.js';
import { resolveSpanLimits, validateSpanLimits } from './limits.js';
import { MultiSpanProcessor } from './multi-processor.js';
import { detectResource, TracewireResource } from './resource.js';
import { ignoresAttributes, isSampler, SAMPLER_NAMES, type Sampler, samplerFromName } from './samplers.js';
import { Tracer, type TracerState } from './tracer.js';
import type { Resource, SpanLimits, SpanProcessor } from './types.js';

type Env = Record<string, string | undefined>;

/** Options of {@link TracewireTracerProvider}. */
export interface TracewireTracerProviderOptions {
  /**
   * The resource, merged over the detected one (`service.name` from `OTEL_SERVICE_NAME`,
   * `OTEL_RESOURCE_ATTRIBUTES`, `telemetry.sdk.*`, process and host): a `Resource` or plain attributes.
   */
  resource?: Resource | Attributes;
  /** Default: from `OTEL_TRACES_SAMPLER`/`OTEL_TRACES_SAMPLER_ARG`, else `parentbased_always_on`. */
  sampler?: Sampler;
  /** Span limits; missing ones from `OTEL_SPAN_*`/`OTEL_ATTRIBUTE_*`, else the spec defaults. */
  spanLimits?: SpanLimits;
  /** Processors that see every recording span (official SDK processors work too). Default: none. */
  spanProcessors?: SpanProcessor[];
  /** Default: {@link RandomIdGenerator} (crypto-random; new traces get the W3C `random` flag). */
  idGenerator?: IdGenerator;
  /** Environment to read `OTEL_*` from; defaults to `process.env`. */
  env?: Env;
}

/** `OTEL_TRACES_SAMPLER` (+ `OTEL_TRACES_SAMPLER_ARG`), default `parentbased_always_on`. */
export function samplerFromEnv(env: Env): Sampler {
  const name = envEnum('OTEL_TRACES_SAMPLER', SAMPLER_NAMES, env) ?? 'parentbased_always_on';
  const ratio =
    name === 'traceidratio' || name === 'parentbased_traceidratio'
      ? envNumber('OTEL_TRACES_SAMPLER_ARG', env, { min: 0, max: 1 })
      : undefined;
  return samplerFromName(name, ratio);
}

function isResource(v: unknown): v is Resource {
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof (v as Resource).merge === 'function' &&
    typeof (v as Resource).attributes === 'object'
  );
}

/**
 * tracewire's `TracerProvider`: register it with `trace.setGlobalTracerProvider()` (what
 * `start()` does) or use it directly.
 *
 * @example
 * ```ts
 * const provider = new TracewireTracerProvider({
 *   resource: { 'service.name': 'checkout' },
 *   spanProcessors: [new BatchSpanProcessor(new OtlpHttpExporter())],
 * });
 * trace.setGlobalTracerProvider(provider);
 * ```
 */
export class TracewireTracerProvider implements TracerProvider {
  /** The resource every span of this provider carries. */
  readonly resource: Resource;
  readonly #state: TracerState;
  readonly #processor: MultiSpanProcessor;
  readonly #tracers = new Map<string, Tracer>();
  #shutdown: Promise<void> | undefined;

  constructor(options: TracewireTracerProviderOptions = {}) {
    if (options === null || typeof options !== 'object') {
      throw new TypeError('tracewire: TracewireTracerProvider options must be an object');
    }
    const env = options.env ?? process.env;
    if (options.sampler !== undefined && !isSampler(options.sampler)) {
      throw new TypeError('tracewire: options.sampler must be a Sampler (an object with shouldSample())');
    }
    if (options.idGenerator !== undefined) {
      const g = options.idGenerator as Partial<IdGenerator> | null;
      if (!g || typeof g.generateTraceId !== 'function' || typeof g.generateSpanId !== 'function') {
        throw new TypeError(
          'tracewire: options.idGenerator must be an IdGenerator (generateTraceId() and generateSpanId())',
        );
      }
    }
    const processors = options.spanProcessors ?? [];
    if (!Array.isArray(processors)) {
      throw new TypeError('tracewire: options.spanProcessors must be an array of SpanProcessor');
    }
    processors.forEach((p, i) => {
      if (!p || typeof p.onStart !== 'function' || typeof p.onEnd !== 'function') {
        throw new TypeError(
          `tracewire: options.spanProcessors[${i}] must be a SpanProcessor (onStart, onEnd, forceFlush, shutdown)`,
        );
      }
    });
    const limits = resolveSpanLimits(validateSpanLimits(options.spanLimits), env);

    const detected = detectResource({ env });
    const given = options.resource;
    if (given !== undefined && (given === null || typeof given !== 'object')) {
      throw new TypeError('tracewire: options.resource must be a Resource or an attributes object');
    }
    this.resource =
      given === undefined
        ? detected
        : detected.merge(isResource(given) ? given : new TracewireResource(given as Attributes));

    const idGenerator = options.idGenerator ?? new RandomIdGenerator();
    this.#processor = new MultiSpanProcessor(processors);
    const sampler = options.sampler ?? samplerFromEnv(env);
    this.#state = {
      resource: this.resource,
      limits,
      processor: this.#processor,
      sampler,
      idGenerator,
      randomTraceIds: idGenerator instanceof RandomIdGenerator,
      idBytes: idGenerator.constructor === RandomIdGenerator,
      samplerIgnoresAttributes: ignoresAttributes(sampler),
      active: true,
    };
  }

  /** The sampler in use (resolved from options or `OTEL_TRACES_SAMPLER`). */
  get sampler(): Sampler {
    return this.#state.sampler;
  }

  /** The span processors, in call order. */
  get spanProcessors(): readonly SpanProcessor[] {
    return this.#processor.processors;
  }

  /** A tracer for an instrumentation scope; the same object for the same name, version and schema URL. */
  getTracer(name: string, version?: string, options?: TracerOptions): Tracer {
    const schemaUrl = options?.schemaUrl;
    const key = `${name}\0${version ?? ''}\0${schemaUrl ?? ''}`;
    let tracer = this.#tracers.get(key);
    if (tracer === undefined) {
      const scope: { name: string; version?: string; schemaUrl?: string } = { name: String(name ?? '') };
      if (version !== undefined) scope.version = version;
      if (schemaUrl !== undefined) scope.schemaUrl = schemaUrl;
      tracer = new Tracer(this.#state, Object.freeze(scope));
      // Tracers are few (one per instrumentation library); the bound protects against a name per request.
      if (this.#tracers.size < 1000) this.#tracers.set(key, tracer);
    }
    return tracer;
  }

  /** Export everything ended so far through every processor. Never rejects. */
  forceFlush(): Promise<void> {
    return this.#processor.forceFlush();
  }

  /**
   * Flush and shut down every processor; later spans are non-recording. Idempotent: a second call
   * returns the first call's promise. Never rejects.
   */
  shutdown(): Promise<void> {
    if (this.#shutdown === undefined) {
      this.#state.active = false;
      this.#shutdown = this.#processor.shutdown();
    }
    return this.#shutdown;
  }
}

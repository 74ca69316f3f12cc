/**
 * The tracer (OpenTelemetry specification `trace/api.md`, "Tracer", and `trace/sdk.md`, "Sampling"):
 * decides the parent, the ids and the sampling decision, then creates a recording `Span` or a cheap
 * `NonRecordingSpan`.
 */
import type {
  Attributes,
  Span as ApiSpan,
  Tracer as ApiTracer,
  Context,
  Link,
  SpanContext,
  SpanOptions,
  TraceState,
} from '@opentelemetry/api';
import { context as contextApi, INVALID_SPAN_CONTEXT, isSpanContextValid, SpanKind, trace } from '../api.js';
import { isTracingSuppressed } from '../export/suppress.js';
import { handoff, START_SPAN_LAZY } from './handoff.js';
import type { IdGenerator, RandomIdGenerator } from './id-generator.js';
import type { ResolvedSpanLimits } from './limits.js';
import { type Sampler, SamplingDecision } from './samplers.js';
import { NonRecordingSpan, Span, type SpanOwner } from './span.js';
import type { InstrumentationScope, Resource, SpanProcessor } from './types.js';

/** W3C Trace Context Level 2, "random" trace flag. */
const FLAG_RANDOM = 0x02;
const FLAG_SAMPLED = 0x01;

/** Provider-wide state every tracer reads (one object, shared). */
export interface TracerState {
  readonly resource: Resource;
  readonly limits: ResolvedSpanLimits;
  readonly processor: SpanProcessor & { onEnding?(span: Span): void };
  readonly sampler: Sampler;
  readonly idGenerator: IdGenerator;
  /** Set the `random` flag on new traces: only when ids come from a cryptographically random source. */
  readonly randomTraceIds: boolean;
  /**
   * The generator is exactly the built-in `RandomIdGenerator` (not a subclass, which may make its
   * own ids): spans can then point at the bytes of their ids (`Span.traceIdBlock`).
   */
  readonly idBytes: boolean;
  /** The sampler never reads span attributes (the built-in ones): they may be built after sampling. */
  readonly samplerIgnoresAttributes: boolean;
  /** False after the provider shut down: spans are then non-recording. */
  active: boolean;
}

const NO_LINKS: Link[] = Object.freeze([]) as unknown as Link[];
const NO_ATTRIBUTES = Object.freeze({});

/**
 * A tracer of {@link TracewireTracerProvider}; get one with `trace.getTracer(name, version)`.
 *
 * @example
 * ```ts
 * const tracer = trace.getTracer('checkout', '1.2.0');
 * tracer.startActiveSpan('charge', (span) => { ...; span.end(); });
 * ```
 */
export class Tracer implements ApiTracer, SpanOwner {
  /** The provider's resource, carried by every span of this tracer. */
  readonly resource: Resource;
  /** The name/version/schema URL given to `getTracer()`. */
  readonly instrumentationScope: InstrumentationScope;
  /** @internal The provider's resolved span limits. */
  readonly limits: ResolvedSpanLimits;
  /** @internal The provider's span processors, combined. */
  readonly processor: SpanProcessor & { onEnding?(span: Span): void };
  readonly #state: TracerState;

  /** @internal Use `provider.getTracer()`. */
  constructor(state: TracerState, scope: InstrumentationScope) {
    this.#state = state;
    this.resource = state.resource;
    this.limits = state.limits;
    this.processor = state.processor;
    this.instrumentationScope = scope;
  }

  startSpan(name: string, options?: SpanOptions, ctx?: Context): ApiSpan {
    return this.#start(name, options, ctx ?? contextApi.active(), undefined, undefined);
  }

  /**
   * @internal `startSpan` for tracewire's HTTP lifecycle, which builds a request's attributes only
   * when they are used: `build(arg)` runs before sampling if the sampler may read attributes (a
   * custom one), otherwise only once the span is known to record. An unsampled request then costs
   * no attribute work at all. The built object is kept by the span without a copy (it is fresh).
   * `typed`: `build` vouches for what it returns as handoff.ts's `typed` describes; the span then
   * keeps an object built after sampling without checking each value.
   */
  [START_SPAN_LAZY]<A>(
    name: string,
    options: SpanOptions,
    ctx: Context,
    build: (arg: A) => Attributes,
    arg: A,
    typed?: boolean,
  ): ApiSpan {
    return this.#start(name, options, ctx, build as (arg: unknown) => Attributes, arg, typed === true);
  }

  #start(
    name: string,
    options: SpanOptions | undefined,
    ctx: Context,
    build: ((arg: unknown) => Attributes) | undefined,
    buildArg: unknown,
    typed = false,
  ): ApiSpan {
    let parentContext = ctx;
    if (options?.root === true) parentContext = trace.deleteSpan(parentContext);
    const state = this.#state;
    if (!state.active || isTracingSuppressed(parentContext)) {
      return new NonRecordingSpan(INVALID_SPAN_CONTEXT);
    }

    const parentSpan = trace.getSpan(parentContext);
    let parent: SpanContext | undefined;
    if (parentSpan !== undefined) {
      const sc = parentSpan.spanContext();
      // Our own spans are valid by construction; anything else is checked (API, "IsValid").
      if (
        parentSpan instanceof Span ||
        (parentSpan instanceof NonRecordingSpan && sc !== INVALID_SPAN_CONTEXT)
      ) {
        parent = sc;
      } else if (isSpanContextValid(sc)) {
        parent = sc;
      }
    }

    const ids = state.idGenerator;
    const spanId = ids.generateSpanId();
    // With the built-in generator, where the ids' bytes are (copied by the OTLP encoder).
    let spanBlock: DataView | undefined;
    let spanOff = 0;
    let traceBlock: DataView | undefined;
    let traceOff = 0;
    const random = state.idBytes ? (ids as RandomIdGenerator) : undefined;
    if (random !== undefined) {
      spanBlock = random.lastBlock;
      spanOff = random.lastOffset;
    }
    let traceId: string;
    let traceState: TraceState | undefined;
    let flags: number;
    if (parent === undefined) {
      traceId = ids.generateTraceId();
      flags = state.randomTraceIds ? FLAG_RANDOM : 0;
      if (random !== undefined) {
        traceBlock = random.lastBlock;
        traceOff = random.lastOffset;
      }
    } else {
      traceId = parent.traceId;
      traceState = parent.traceState;
      // The random flag describes the trace id: it is inherited exactly as the parent has it.
      flags = parent.traceFlags & FLAG_RANDOM;
      if (parentSpan instanceof Span) {
        traceBlock = parentSpan.traceIdBlock;
        traceOff = parentSpan.traceIdOffset;
      }
    }

    let attributes = options?.attributes;
    if (build !== undefined && !state.samplerIgnoresAttributes) attributes = build(buildArg);
    const kind = options?.kind ?? SpanKind.INTERNAL;
    const links = options?.links ?? NO_LINKS;
    const result = state.sampler.shouldSample(
      parentContext,
      traceId,
      name,
      kind,
      attributes ?? NO_ATTRIBUTES,
      links,
    );
    if (result.traceState !== undefined) traceState = result.traceState;
    const decision = result.decision;
    if (decision === SamplingDecision.RECORD_AND_SAMPLED) flags |= FLAG_SAMPLED;

    const spanContext: SpanContext =
      traceState === undefined
        ? { traceId, spanId, traceFlags: flags }
        : { traceId, spanId, traceFlags: flags, traceState };
    if (decision === SamplingDecision.NOT_RECORD) return new NonRecordingSpan(spanContext);

    if (build !== undefined) {
      if (attributes === undefined) {
        attributes = build(buildArg);
        // Built only now: no sampler has seen it, so what its builder vouches for still holds.
        if (typed) handoff.typed = attributes;
      }
      // Fresh and held by nobody else: the span may keep it (handoff.ts).
      handoff.attributes = attributes;
    }
    let span: Span;
    try {
      span = new Span(
        this,
        parentContext,
        name,
        spanContext,
        kind,
        parent,
        options?.links,
        options?.startTime,
        attributes,
        result.attributes,
      );
    } finally {
      if (build !== undefined) {
        handoff.attributes = undefined;
        handoff.typed = undefined;
      }
    }
    if (spanBlock !== undefined) span.setIdBytes(traceBlock, traceOff, spanBlock, spanOff);
    return span;
  }

  startActiveSpan<F extends (span: ApiSpan) => unknown>(name: string, fn: F): ReturnType<F>;
  startActiveSpan<F extends (span: ApiSpan) => unknown>(
    name: string,
    options: SpanOptions,
    fn: F,
  ): ReturnType<F>;
  startActiveSpan<F extends (span: ApiSpan) => unknown>(
    name: string,
    options: SpanOptions,
    context: Context,
    fn: F,
  ): ReturnType<F>;
  startActiveSpan<F extends (span: ApiSpan) => unknown>(
    name: string,
    arg2?: F | SpanOptions,
    arg3?: F | Context,
    arg4?: F,
  ): ReturnType<F> | undefined {
    let options: SpanOptions | undefined;
    let ctx: Context | undefined;
    let fn: F;
    if (typeof arg2 === 'function') {
      fn = arg2;
    } else if (typeof arg3 === 'function') {
      options = arg2;
      fn = arg3;
    } else if (typeof arg4 === 'function') {
      options = arg2;
      ctx = arg3;
      fn = arg4;
    } else {
      return undefined;
    }
    const parentContext = ctx ?? contextApi.active();
    const span = this.startSpan(name, options, parentContext);
    return contextApi.with(
      trace.setSpan(parentContext, span),
      fn as (s: ApiSpan) => ReturnType<F>,
      undefined,
      span,
    );
  }
}

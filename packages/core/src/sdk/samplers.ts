/**
 * Samplers (OpenTelemetry SDK specification `trace/sdk.md`, "Sampling" and "Built-in samplers"),
 * with the official SDK's interface and `toString()` forms, so official samplers work with tracewire
 * and tracewire's samplers work with the official SDK.
 */
import type { Attributes, Context, Link, SpanKind, TraceState } from '@opentelemetry/api';
import { isSpanContextValid, TraceFlags, trace } from '../api.js';

/**
 * The sampling decision, numerically equal to the official SDK's `SamplingDecision` enum.
 *
 * @example
 * ```ts
 * if (result.decision === SamplingDecision.RECORD_AND_SAMPLED) { ... }
 * ```
 */
export const SamplingDecision = {
  /** Not recorded, not exported; the span context is still propagated. */
  NOT_RECORD: 0,
  /** Recorded (processors see it) but not sampled (exporters do not). */
  RECORD: 1,
  /** Recorded and sampled: exported. */
  RECORD_AND_SAMPLED: 2,
} as const;
export type SamplingDecision = (typeof SamplingDecision)[keyof typeof SamplingDecision];

/** What a sampler returns (official `SamplingResult`). */
export interface SamplingResult {
  decision: SamplingDecision;
  /** Attributes added to the span. */
  attributes?: Readonly<Attributes>;
  /** Trace state for the new span (replaces the parent's). */
  traceState?: TraceState;
}

/** The official SDK's `Sampler` interface. */
export interface Sampler {
  shouldSample(
    context: Context,
    traceId: string,
    spanName: string,
    spanKind: SpanKind,
    attributes: Attributes,
    links: Link[],
  ): SamplingResult;
  toString(): string;
}

const SAMPLED: SamplingResult = Object.freeze({ decision: SamplingDecision.RECORD_AND_SAMPLED });
const NOT_SAMPLED: SamplingResult = Object.freeze({ decision: SamplingDecision.NOT_RECORD });

/**
 * Samples every span.
 *
 * @example
 * ```ts
 * new TracewireTracerProvider({ sampler: new AlwaysOnSampler() });
 * ```
 */
export class AlwaysOnSampler implements Sampler {
  shouldSample(): SamplingResult {
    return SAMPLED;
  }
  toString(): string {
    return 'AlwaysOnSampler';
  }
}

/**
 * Samples no span (context is still propagated, with the sampled flag off).
 *
 * @example
 * ```ts
 * new TracewireTracerProvider({ sampler: new AlwaysOffSampler() });
 * ```
 */
export class AlwaysOffSampler implements Sampler {
  shouldSample(): SamplingResult {
    return NOT_SAMPLED;
  }
  toString(): string {
    return 'AlwaysOffSampler';
  }
}

/**
 * Samples a fixed fraction of traces, decided on the trace id alone so that every service with the
 * same ratio takes the same decision for a trace. Same algorithm as the official SDK (XOR of the
 * four 32-bit words of the trace id, compared with `floor(ratio * 0xffffffff)`), so the two agree
 * trace by trace.
 *
 * @example
 * ```ts
 * new TraceIdRatioBasedSampler(0.1); // about 10% of traces
 * ```
 */
export class TraceIdRatioBasedSampler implements Sampler {
  readonly #ratio: number;
  readonly #upperBound: number;

  /** @param ratio in [0, 1]; out-of-range values are clamped, a non-number counts as 0. */
  constructor(ratio = 0) {
    this.#ratio = normalizeRatio(ratio);
    this.#upperBound = Math.floor(this.#ratio * 0xffffffff);
  }

  shouldSample(_context: Context, traceId: string): SamplingResult {
    if (this.#upperBound === 0) return NOT_SAMPLED;
    return traceId.length === 32 && accumulate(traceId) < this.#upperBound ? SAMPLED : NOT_SAMPLED;
  }

  toString(): string {
    return `TraceIdRatioBased{${this.#ratio}}`;
  }
}

function normalizeRatio(ratio: unknown): number {
  if (typeof ratio !== 'number' || Number.isNaN(ratio)) return 0;
  return ratio >= 1 ? 1 : ratio <= 0 ? 0 : ratio;
}

/**
 * The official algorithm: XOR of the trace id's four 32-bit words, compared with ratio * 2^32.
 * A charCode loop instead of slice + parseInt (no substring allocation per sampled request); a
 * non-hex id gives a value no ratio < 1 samples, as parseInt's NaN did.
 */
function accumulate(traceId: string): number {
  let acc = 0;
  for (let pos = 0; pos < 32; pos += 8) {
    let word = 0;
    for (let i = pos; i < pos + 8; i++) {
      const c = traceId.charCodeAt(i);
      const d = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;
      if (d < 0) return 0xffffffff;
      word = word * 16 + d;
    }
    acc = (acc ^ word) >>> 0;
  }
  return acc;
}

/** Options of {@link ParentBasedSampler} (same names as the official SDK). */
export interface ParentBasedSamplerOptions {
  /** Sampler for spans without a parent. Required. */
  root: Sampler;
  /** Parent from another process, sampled. Default: {@link AlwaysOnSampler}. */
  remoteParentSampled?: Sampler;
  /** Parent from another process, not sampled. Default: {@link AlwaysOffSampler}. */
  remoteParentNotSampled?: Sampler;
  /** Parent in this process, sampled. Default: {@link AlwaysOnSampler}. */
  localParentSampled?: Sampler;
  /** Parent in this process, not sampled. Default: {@link AlwaysOffSampler}. */
  localParentNotSampled?: Sampler;
}

/** The key of ParentBasedSampler's internal accessor of its delegates. */
const DELEGATES = Symbol('tracewire.sampler.delegates');

/**
 * Follows the parent's decision; spans without a parent are decided by `root` (SDK spec,
 * "ParentBased"). The default sampler is `ParentBasedSampler({ root: new AlwaysOnSampler() })`.
 *
 * @example
 * ```ts
 * new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(0.25) });
 * ```
 */
export class ParentBasedSampler implements Sampler {
  readonly #root: Sampler;
  readonly #remoteSampled: Sampler;
  readonly #remoteNotSampled: Sampler;
  readonly #localSampled: Sampler;
  readonly #localNotSampled: Sampler;

  constructor(options: ParentBasedSamplerOptions) {
    if (!isSampler(options?.root)) {
      throw new TypeError('tracewire: ParentBasedSampler: options.root must be a Sampler');
    }
    for (const k of [
      'remoteParentSampled',
      'remoteParentNotSampled',
      'localParentSampled',
      'localParentNotSampled',
    ] as const) {
      if (options[k] !== undefined && !isSampler(options[k])) {
        throw new TypeError(`tracewire: ParentBasedSampler: options.${k} must be a Sampler`);
      }
    }
    this.#root = options.root;
    this.#remoteSampled = options.remoteParentSampled ?? new AlwaysOnSampler();
    this.#remoteNotSampled = options.remoteParentNotSampled ?? new AlwaysOffSampler();
    this.#localSampled = options.localParentSampled ?? new AlwaysOnSampler();
    this.#localNotSampled = options.localParentNotSampled ?? new AlwaysOffSampler();
  }

  shouldSample(
    context: Context,
    traceId: string,
    spanName: string,
    spanKind: SpanKind,
    attributes: Attributes,
    links: Link[],
  ): SamplingResult {
    const parent = trace.getSpanContext(context);
    let sampler: Sampler;
    if (!parent || !isSpanContextValid(parent)) sampler = this.#root;
    else if (parent.isRemote) {
      sampler = (parent.traceFlags & TraceFlags.SAMPLED) !== 0 ? this.#remoteSampled : this.#remoteNotSampled;
    } else {
      sampler = (parent.traceFlags & TraceFlags.SAMPLED) !== 0 ? this.#localSampled : this.#localNotSampled;
    }
    return sampler.shouldSample(context, traceId, spanName, spanKind, attributes, links);
  }

  /** @internal The five samplers this one delegates to. */
  [DELEGATES](): Sampler[] {
    return [
      this.#root,
      this.#remoteSampled,
      this.#remoteNotSampled,
      this.#localSampled,
      this.#localNotSampled,
    ];
  }

  toString(): string {
    return `ParentBased{root=${this.#root.toString()}, remoteParentSampled=${this.#remoteSampled.toString()}, remoteParentNotSampled=${this.#remoteNotSampled.toString()}, localParentSampled=${this.#localSampled.toString()}, localParentNotSampled=${this.#localNotSampled.toString()}}`;
  }
}

/**
 * @internal Whether a sampler's decision never reads the span's attributes: the built-in samplers
 * (exactly these classes, not subclasses, which may override `shouldSample`) and a ParentBased one
 * made only of them. Attributes can then be built after the sampling decision, for sampled spans only.
 */
export function ignoresAttributes(s: Sampler): boolean {
  const c = (s as object).constructor;
  if (c === AlwaysOnSampler || c === AlwaysOffSampler || c === TraceIdRatioBasedSampler) return true;
  if (c === ParentBasedSampler) return (s as ParentBasedSampler)[DELEGATES]().every(ignoresAttributes);
  return false;
}

/** Whether `v` looks like a Sampler (has `shouldSample`). */
export function isSampler(v: unknown): v is Sampler {
  return typeof v === 'object' && v !== null && typeof (v as Sampler).shouldSample === 'function';
}

/** Names accepted by `OTEL_TRACES_SAMPLER` and `start({ sampler })`. */
export const SAMPLER_NAMES = [
  'always_on',
  'always_off',
  'traceidratio',
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio',
] as const;
export type SamplerName = (typeof SAMPLER_NAMES)[number];

/** Build a sampler from its `OTEL_TRACES_SAMPLER` name and ratio (default ratio 1). */
export function samplerFromName(name: SamplerName, ratio: number | undefined): Sampler {
  const r = ratio ?? 1;
  switch (name) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return new TraceIdRatioBasedSampler(r);
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(r) });
    default:
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
  }
}

/**
 * The span (OpenTelemetry specification `trace/api.md`, "Span", and `trace/sdk.md`, "Span
 * Limits"): implements the API's `Span` and the SDK's `ReadableSpan`, so official processors and
 * exporters read it directly.
 *
 * This is the hot path: one span per request, often several. What it avoids, and why:
 * - no closure and no array per span unless the user adds events or links (shared empty arrays);
 * - no `Object.keys` scan to enforce the attribute count limit: a counter is kept;
 * - `startTime`, `endTime` and `duration` are computed on first read (exporters read them, a
 *   non-exporting processor does not), from a monotonic reading and the clock anchor;
 * - problems (invalid attribute, operation on an ended span) go through `report()` (rate-limited
 *   `diag`), never to the caller.
 */
import type {
  Span as ApiSpan,
  Attributes,
  AttributeValue,
  Context,
  Exception,
  HrTime,
  Link,
  SpanContext,
  SpanKind,
  SpanStatus,
  TimeInput,
} from '@opentelemetry/api';
import { SpanStatusCode } from '../api.js';
import { copyArray, isAttributeValue, sanitizeAttributes, truncateValue } from './attributes.js';
import { handoff, TYPED_MAX_KEYS } from './handoff.js';
import {
  type Anchor,
  currentAnchor,
  hrNow,
  hrTimeBefore,
  hrTimeDuration,
  isTimeInput,
  monotonicNow,
  relToHrTime,
  toHrTime,
  writeRelTime,
} from './clock.js';
import type { ResolvedSpanLimits } from './limits.js';
import { report } from './report.js';
import type { InstrumentationScope, ReadableSpan, Resource, SpanProcessor, TimedEvent } from './types.js';

/** What every span of one tracer shares (set once per tracer, never per span). */
export interface SpanOwner {
  readonly resource: Resource;
  readonly instrumentationScope: InstrumentationScope;
  readonly limits: ResolvedSpanLimits;
  /** The provider's processors, combined; never throws. */
  readonly processor: SpanProcessor & { onEnding?(span: Span): void };
}

const UNSET_STATUS: SpanStatus = Object.freeze({ code: SpanStatusCode.UNSET });
// Shared until the first event/link is added; frozen so a stray push fails loudly in tests.
const NO_EVENTS: TimedEvent[] = Object.freeze([]) as unknown as TimedEvent[];
const NO_LINKS: Link[] = Object.freeze([]) as unknown as Link[];
const NOT_ENDED_TIME: HrTime = Object.freeze([0, 0]) as unknown as HrTime;
const NOT_ENDED_DURATION: HrTime = Object.freeze([-1, -1]) as unknown as HrTime;

// Semantic conventions, "Exceptions" (`exception.*` attributes on the `exception` event).
const EXCEPTION_EVENT = 'exception';
const EXCEPTION_TYPE = 'exception.type';
const EXCEPTION_MESSAGE = 'exception.message';
const EXCEPTION_STACKTRACE = 'exception.stacktrace';

function countKeys(attrs: Attributes): number {
  return Object.keys(attrs).length;
}

function endedWarning(span: Span, operation: string): void {
  report(
    `span:ended:${operation}`,
    `${operation}() on an ended span ("${span.name}", ${span.spanContext().traceId}-${span.spanContext().spanId}) was ignored`,
  );
}

/**
 * A recording span. Created by a tracer (`tracer.startSpan()`), never directly.
 *
 * @example
 * ```ts
 * const span = trace.getTracer('checkout').startSpan('charge card');
 * span.setAttribute('payment.provider', 'acme');
 * span.end();
 * ```
 */
export class Span implements ApiSpan, ReadableSpan {
  name: string;
  readonly kind: SpanKind;
  // Declared optional (not `| undefined`) to match the official SDK's ReadableSpan exactly.
  declare readonly parentSpanContext?: SpanContext;
  readonly attributes: Attributes;
  links: Link[] = NO_LINKS;
  events: TimedEvent[] = NO_EVENTS;
  status: SpanStatus = UNSET_STATUS;
  ended = false;
  readonly resource: Resource;
  readonly instrumentationScope: InstrumentationScope;
  droppedAttributesCount = 0;
  droppedEventsCount = 0;
  droppedLinksCount = 0;
  /**
   * @internal Where the bytes of this span's trace id and span id are (blocks of the built-in id
   * generator), so the OTLP encoder copies them instead of parsing hex; undefined when unknown
   * (another id generator, a remote parent).
   */
  traceIdBlock: DataView | undefined = undefined;
  traceIdOffset = 0;
  spanIdBlock: DataView | undefined = undefined;
  spanIdOffset = 0;

  readonly #spanContext: SpanContext;
  readonly #owner: SpanOwner;
  readonly #limits: ResolvedSpanLimits;
  readonly #anchor: Anchor;
  /** `performance.now()` at start, or NaN when the start time was given by the caller. */
  readonly #startRel: number;
  #endRel = Number.NaN;
  #startTime: HrTime | undefined;
  #endTime: HrTime | undefined;
  /** setAttribute stores so far: an upper bound of the distinct keys, until exact counting starts. */
  #writes = 0;
  /** Exact number of keys once a span came near its count limit; -1 before. */
  #attributeCount = -1;

  /** @internal Use `tracer.startSpan()`. */
  constructor(
    owner: SpanOwner,
    parentContext: Context,
    name: string,
    spanContext: SpanContext,
    kind: SpanKind,
    parentSpanContext: SpanContext | undefined,
    links: Link[] | undefined,
    startTime: TimeInput | undefined,
    attributes: Attributes | undefined,
    samplerAttributes: Readonly<Attributes> | undefined,
  ) {
    this.name = name;
    this.kind = kind;
    // Always assigned (one hidden class for every span), typed as the official optional field.
    (this as { parentSpanContext?: SpanContext | undefined }).parentSpanContext = parentSpanContext;
    this.resource = owner.resource;
    this.instrumentationScope = owner.instrumentationScope;
    this.#spanContext = spanContext;
    this.#owner = owner;
    this.#limits = owner.limits;
    const rel = monotonicNow();
    this.attributes = attributes === undefined ? {} : Span.#initialAttributes(this, attributes);
    this.#anchor = currentAnchor(rel);
    if (startTime === undefined) {
      this.#startRel = rel;
    } else {
      this.#startRel = Number.NaN;
      this.#startTime = toHrTime(startTime, this.#anchor) ?? relToHrTime(this.#anchor, rel);
    }
    if (samplerAttributes !== undefined) this.setAttributes(samplerAttributes);
    if (links !== undefined && links.length > 0) this.addLinks(links);
    owner.processor.onStart(this, parentContext);
  }

  spanContext(): SpanContext {
    return this.#spanContext;
  }

  get startTime(): HrTime {
    if (this.#startTime === undefined) this.#startTime = relToHrTime(this.#anchor, this.#startRel);
    return this.#startTime;
  }

  get endTime(): HrTime {
    if (this.#endTime !== undefined) return this.#endTime;
    if (!this.ended) return NOT_ENDED_TIME;
    this.#endTime = relToHrTime(this.#anchor, this.#endRel);
    return this.#endTime;
  }

  get duration(): HrTime {
    if (!this.ended) return NOT_ENDED_DURATION;
    if (this.#startTime === undefined && this.#endTime === undefined) {
      // Both ends on the monotonic clock: the exact difference, no rounding of epoch times.
      const ns = Math.round((this.#endRel - this.#startRel) * 1e6);
      const sec = Math.floor(ns / 1e9);
      return [sec, ns - sec * 1e9];
    }
    return hrTimeDuration(this.startTime, this.endTime);
  }

  /**
   * @internal For the OTLP encoder: start and end as `[startSec, startNs, endSec, endNs]` in `out`,
   * the values `startTime` and `endTime` return, without creating the two arrays they cache.
   */
  writeTimes(out: Float64Array): void {
    if (this.#startTime === undefined) {
      writeRelTime(this.#anchor, this.#startRel, out, 0);
    } else {
      out[0] = this.#startTime[0];
      out[1] = this.#startTime[1];
    }
    const end = this.#endTime;
    if (end !== undefined) {
      out[2] = end[0];
      out[3] = end[1];
    } else if (this.ended) {
      writeRelTime(this.#anchor, this.#endRel, out, 2);
    } else {
      out[2] = 0;
      out[3] = 0;
    }
  }

  /** @internal Set by the tracer right after construction (see {@link traceIdBlock}). */
  setIdBytes(traceBlock: DataView | undefined, traceOff: number, spanBlock: DataView, spanOff: number): void {
    this.traceIdBlock = traceBlock;
    this.traceIdOffset = traceOff;
    this.spanIdBlock = spanBlock;
    this.spanIdOffset = spanOff;
  }

  /** SDK 1.x name of `parentSpanContext.spanId`, for exporters built on SDK 1.x. */
  get parentSpanId(): string | undefined {
    return this.parentSpanContext?.spanId;
  }

  /** SDK 1.x name of `instrumentationScope`. */
  get instrumentationLibrary(): InstrumentationScope {
    return this.instrumentationScope;
  }

  setAttribute(key: string, value: AttributeValue | undefined): this {
    // null/undefined mean "no value": ignored silently, as the official SDK does.
    if (value === undefined || value === null) return this;
    if (this.ended) {
      endedWarning(this, 'setAttribute');
      return this;
    }
    if (typeof key !== 'string' || key.length === 0) {
      report(
        'span:attribute-key',
        `an attribute with an empty or non-string key was dropped (span "${this.name}")`,
      );
      return this;
    }
    const t = typeof value;
    if (t !== 'string' && t !== 'number' && t !== 'boolean' && !isAttributeValue(value)) {
      report(
        'span:attribute-value',
        `attribute "${key}" was dropped: its value must be a string, number, boolean or a homogeneous array of them`,
      );
      return this;
    }
    const attrs = this.attributes;
    // Count limit without a lookup per write: while fewer writes than the limit were made, the
    // number of distinct keys cannot reach it, so the value is stored directly (a lookup of a
    // missing key costs as much as the store itself). Only a span that reaches the limit counts
    // its keys, once, and from then on checks each key.
    if (this.#attributeCount < 0) {
      if (this.#writes < this.#limits.attributeCountLimit) {
        this.#writes++;
      } else {
        this.#attributeCount = countKeys(attrs);
      }
    }
    if (this.#attributeCount >= 0 && !Object.hasOwn(attrs, key)) {
      if (this.#attributeCount >= this.#limits.attributeCountLimit) {
        this.droppedAttributesCount++;
        return this;
      }
      this.#attributeCount++;
    }
    let stored: AttributeValue;
    if (t === 'string') {
      const limit = this.#limits.attributeValueLengthLimit;
      stored = (value as string).length > limit ? (value as string).slice(0, limit) : value;
    } else if (t === 'number' || t === 'boolean') {
      stored = value;
    } else {
      stored = truncateValue(copyArray(value), this.#limits.attributeValueLengthLimit);
    }
    // The two attributes an HTTP server span gets at its end are stored with their names written
    // out: each such store site sees one key and (span after span) the same hidden-class
    // transition, so V8 compiles it to a field store. `attrs[key] = v` is one site for every key,
    // megamorphic, and adding a property through it costs a stub-cache probe and a transition
    // lookup (~300 instructions per store, measured with callgrind on Node 24).
    if (key === 'http.route') attrs['http.route'] = stored;
    else if (key === 'http.response.status_code') attrs['http.response.status_code'] = stored;
    // `attrs.__proto__ = v` would hit Object.prototype's setter instead of storing an attribute.
    else if (key === '__proto__')
      Object.defineProperty(attrs, key, {
        value: stored,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    else attrs[key] = stored;
    return this;
  }

  /**
   * The attributes given at start, copied in one loop when every value is a string within the
   * length limit, a number or a boolean, and there are no more of them than the count limit (the
   * common case); anything else goes key by key through setAttribute. (Not `{ ...input }`: V8
   * clones the literal's hidden class, and adding a property to such a clone later was measured
   * at ~3 µs, against ~25 ns for an object built key by key.)
   * Static, as is `#timeOf`: a private instance method makes V8 brand every span as it is
   * constructed (one more keyed define per span).
   */
  static #initialAttributes(span: Span, input: Attributes): Attributes {
    const limits = span.#limits;
    const lengthLimit = limits.attributeValueLengthLimit;
    // An object the HTTP lifecycle gave up (see handoff.ts) is kept as is once checked: no copy.
    const owned = input === handoff.attributes;
    if (owned) {
      handoff.attributes = undefined;
      if (input === handoff.typed) {
        handoff.typed = undefined;
        // Vouched for by its builder (handoff.ts): nothing to check, unless a limit could cut it.
        if (lengthLimit === Number.POSITIVE_INFINITY && limits.attributeCountLimit >= TYPED_MAX_KEYS) {
          span.#writes = TYPED_MAX_KEYS; // at least as many as its keys: see setAttribute's count
          return input;
        }
      }
    }
    const out: Attributes = owned ? input : {};
    let n = 0;
    for (const key in input) {
      const v = input[key];
      if (
        (typeof v === 'string' ? v.length > lengthLimit : typeof v !== 'number' && typeof v !== 'boolean') ||
        key === '' ||
        key === '__proto__' ||
        ++n > limits.attributeCountLimit
      ) {
        // Assigned before setAttributes runs, which reads span.attributes.
        (span as { attributes: Attributes }).attributes = {};
        span.setAttributes(input);
        return span.attributes;
      }
      if (!owned) out[key] = v;
    }
    span.#writes = n;
    return out;
  }

  setAttributes(attributes: Attributes): this {
    for (const key in attributes) {
      if (Object.hasOwn(attributes, key)) this.setAttribute(key, attributes[key]);
    }
    return this;
  }

  addEvent(name: string, attributesOrStartTime?: Attributes | TimeInput, startTime?: TimeInput): this {
    if (this.ended) {
      endedWarning(this, 'addEvent');
      return this;
    }
    const limit = this.#limits.eventCountLimit;
    if (limit === 0) {
      this.droppedEventsCount++;
      return this;
    }
    let attributes: Attributes | undefined;
    let time: TimeInput | undefined = startTime;
    if (isTimeInput(attributesOrStartTime)) {
      time = attributesOrStartTime;
    } else {
      attributes = attributesOrStartTime;
    }
    const event: TimedEvent = { name: String(name), time: Span.#timeOf(this, time) };
    if (attributes !== undefined) {
      const s = sanitizeAttributes(
        attributes,
        this.#limits.attributePerEventCountLimit,
        this.#limits.attributeValueLengthLimit,
      );
      event.attributes = s.attributes;
      event.droppedAttributesCount = s.dropped;
    } else {
      event.attributes = {};
      event.droppedAttributesCount = 0;
    }
    if (this.events === NO_EVENTS) this.events = [];
    else if (this.events.length >= limit) {
      // Keep the most recent events (the official SDK's choice); count the dropped ones.
      this.events.shift();
      this.droppedEventsCount++;
    }
    this.events.push(event);
    return this;
  }

  addLink(link: Link): this {
    if (this.ended) {
      endedWarning(this, 'addLink');
      return this;
    }
    if (!link || typeof link !== 'object' || typeof link.context !== 'object' || link.context === null) {
      report('span:link', `a link without a span context was dropped (span "${this.name}")`);
      return this;
    }
    if (this.links.length >= this.#limits.linkCountLimit) {
      this.droppedLinksCount++;
      return this;
    }
    const s = sanitizeAttributes(
      link.attributes,
      this.#limits.attributePerLinkCountLimit,
      this.#limits.attributeValueLengthLimit,
    );
    const stored: Link = {
      context: link.context,
      attributes: s.attributes,
      droppedAttributesCount: s.dropped,
    };
    if (this.links === NO_LINKS) this.links = [];
    this.links.push(stored);
    return this;
  }

  addLinks(links: Link[]): this {
    for (const link of links) this.addLink(link);
    return this;
  }

  setStatus(status: SpanStatus): this {
    if (this.ended) {
      endedWarning(this, 'setStatus');
      return this;
    }
    const code = status?.code;
    // API spec, "Set Status": Unset is ignored; Ok is final; a description only goes with Error.
    if (code === SpanStatusCode.UNSET || this.status.code === SpanStatusCode.OK) return this;
    if (code === SpanStatusCode.OK) {
      this.status = { code };
    } else if (code === SpanStatusCode.ERROR) {
      const message = status.message;
      if (typeof message === 'string') this.status = { code, message };
      else if (this.status.code === SpanStatusCode.ERROR) {
        // Already ERROR: keep the description given earlier rather than erase it.
      } else this.status = { code };
    } else {
      report('span:status', `setStatus() with an unknown status code ${String(code)} was ignored`);
    }
    return this;
  }

  updateName(name: string): this {
    if (this.ended) {
      endedWarning(this, 'updateName');
      return this;
    }
    this.name = name;
    return this;
  }

  isRecording(): boolean {
    return !this.ended;
  }

  recordException(exception: Exception, time?: TimeInput): void {
    if (this.ended) {
      endedWarning(this, 'recordException');
      return;
    }
    const attributes: Attributes = {};
    if (typeof exception === 'string') {
      attributes[EXCEPTION_MESSAGE] = exception;
    } else if (exception !== null && typeof exception === 'object') {
      const e = exception as { name?: unknown; code?: unknown; message?: unknown; stack?: unknown };
      // Semantic conventions: exception.type is the exception's type (its class name); a Node
      // error code (ECONNRESET) is used only when there is no name.
      const ctorName = (exception as object).constructor?.name;
      // A subclass that does not set `name` (`class PaymentError extends Error {}`) still reports
      // `Error` as its name: its class name is the type (and what the HTTP lifecycle's error.type says).
      const type =
        typeof e.name === 'string' && e.name !== ''
          ? e.name === 'Error' && typeof ctorName === 'string' && ctorName !== '' && ctorName !== 'Error'
            ? ctorName
            : e.name
          : e.code !== undefined && e.code !== null
            ? String(e.code)
            : ctorName !== undefined && ctorName !== 'Object'
              ? ctorName
              : undefined;
      if (type !== undefined) attributes[EXCEPTION_TYPE] = type;
      if (typeof e.message === 'string') attributes[EXCEPTION_MESSAGE] = e.message;
      else if (e.message !== undefined && e.message !== null)
        attributes[EXCEPTION_MESSAGE] = String(e.message);
      if (typeof e.stack === 'string') attributes[EXCEPTION_STACKTRACE] = e.stack;
    } else if (exception !== undefined && exception !== null) {
      // A thrown number, boolean, symbol...: its text is the message.
      attributes[EXCEPTION_MESSAGE] = String(exception);
    }
    if (attributes[EXCEPTION_TYPE] === undefined && attributes[EXCEPTION_MESSAGE] === undefined) {
      attributes[EXCEPTION_MESSAGE] = String(exception);
    }
    this.addEvent(EXCEPTION_EVENT, attributes, time);
  }

  end(endTime?: TimeInput): void {
    if (this.ended) {
      report(
        'span:end-twice',
        `end() was called twice on span "${this.name}" (${this.#spanContext.traceId}-${this.#spanContext.spanId}); the second call was ignored`,
      );
      return;
    }
    if (endTime !== undefined || this.#startTime !== undefined) {
      // A caller-supplied time is involved: compute now and keep the span consistent.
      const start = this.startTime;
      let end = endTime === undefined ? hrNow() : (toHrTime(endTime, this.#anchor) ?? hrNow());
      if (hrTimeBefore(end, start)) {
        report(
          'span:negative-duration',
          `span "${this.name}" ended before it started; its duration was set to 0`,
        );
        end = [start[0], start[1]];
      }
      this.#endTime = end;
      this.#endRel = Number.NaN;
    } else {
      this.#endRel = monotonicNow();
    }
    if (this.droppedEventsCount > 0) {
      report(
        'span:dropped-events',
        `span "${this.name}" dropped ${this.droppedEventsCount} events (eventCountLimit)`,
      );
    }
    const processor = this.#owner.processor;
    if (processor.onEnding !== undefined) processor.onEnding(this);
    this.ended = true;
    processor.onEnd(this);
  }

  static #timeOf(span: Span, time: TimeInput | undefined): HrTime {
    if (time === undefined) return hrNow();
    return toHrTime(time, span.#anchor) ?? hrNow();
  }
}

/**
 * A span that records nothing: for unsampled requests (the context still propagates, with the
 * sampled flag off) and where tracing is suppressed. One small object, every method a no-op.
 *
 * @example
 * ```ts
 * const span = new NonRecordingSpan({ traceId, spanId, traceFlags: 0 });
 * span.isRecording(); // false
 * ```
 */
export class NonRecordingSpan implements ApiSpan {
  readonly #spanContext: SpanContext;
  constructor(spanContext: SpanContext) {
    this.#spanContext = spanContext;
  }
  spanContext(): SpanContext {
    return this.#spanContext;
  }
  setAttribute(): this {
    return this;
  }
  setAttributes(): this {
    return this;
  }
  addEvent(): this {
    return this;
  }
  addLink(): this {
    return this;
  }
  addLinks(): this {
    return this;
  }
  setStatus(): this {
    return this;
  }
  updateName(): this {
    return this;
  }
  end(): void {}
  isRecording(): boolean {
    return false;
  }
  recordException(): void {}
}

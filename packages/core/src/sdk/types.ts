/**
 * The SDK-side shapes that spans, processors and exporters share. They match the official
 * OpenTelemetry JS SDK (`@opentelemetry/sdk-trace-base` 1.x and 2.x) structurally, so an exporter or
 * span processor from the official ecosystem plugs into tracewire and the other way round.
 */
import type {
  Attributes,
  AttributeValue,
  Context,
  HrTime,
  Link,
  SpanContext,
  SpanKind,
  SpanStatus,
} from '@opentelemetry/api';

/** `@opentelemetry/core` ExportResultCode. */
export const ExportResultCode = {
  SUCCESS: 0,
  FAILED: 1,
} as const;
export type ExportResultCode = (typeof ExportResultCode)[keyof typeof ExportResultCode];

/** Result of one export, as the official SDK defines it: exporters report, they do not throw. */
export interface ExportResult {
  code: ExportResultCode;
  error?: Error;
}

/** The instrumentation scope (library) that created a span. */
export interface InstrumentationScope {
  readonly name: string;
  readonly version?: string;
  readonly schemaUrl?: string;
}

/**
 * A resource: the entity producing telemetry. Structurally compatible with the official SDK 2.x
 * `Resource` (read side), which exporters use.
 */
export interface Resource {
  readonly attributes: Attributes;
  readonly schemaUrl?: string;
  readonly asyncAttributesPending?: boolean;
  waitForAsyncAttributes?(): Promise<void>;
  merge(other: Resource | null): Resource;
  /** Values may be promises in the official SDK (async resource detectors); tracewire's are never. */
  getRawAttributes(): [string, AttributeValue | undefined | Promise<AttributeValue | undefined>][];
}

/** An event recorded on a span. */
export interface TimedEvent {
  time: HrTime;
  name: string;
  attributes?: Attributes;
  droppedAttributesCount?: number;
}

/**
 * A finished (or in-flight) span as processors and exporters read it. Same shape as the official
 * SDK's `ReadableSpan` (2.x fields, with the 1.x `parentSpanId`/`instrumentationLibrary` kept as
 * getters by tracewire's span for exporters built on SDK 1.x).
 */
export interface ReadableSpan {
  readonly name: string;
  readonly kind: SpanKind;
  readonly spanContext: () => SpanContext;
  readonly parentSpanContext?: SpanContext;
  readonly startTime: HrTime;
  readonly endTime: HrTime;
  readonly status: SpanStatus;
  readonly attributes: Attributes;
  readonly links: Link[];
  readonly events: TimedEvent[];
  readonly duration: HrTime;
  readonly ended: boolean;
  readonly resource: Resource;
  readonly instrumentationScope: InstrumentationScope;
  readonly droppedAttributesCount: number;
  readonly droppedEventsCount: number;
  readonly droppedLinksCount: number;
}

/** Official SDK `SpanExporter`. */
export interface SpanExporter {
  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void;
  shutdown(): Promise<void>;
  forceFlush?(): Promise<void>;
}

/** Official SDK `SpanProcessor`. `span` in onStart is the live span (tracewire's `Span` class). */
export interface SpanProcessor {
  forceFlush(): Promise<void>;
  // biome-ignore lint/suspicious/noExplicitAny: the official interface passes its own Span class here
  onStart(span: any, parentContext: Context): void;
  onEnd(span: ReadableSpan): void;
  shutdown(): Promise<void>;
}

/** Span limits (OpenTelemetry SDK spec, "Span Limits"). */
export interface SpanLimits {
  /** `OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT`, else `OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT`; default unlimited. */
  attributeValueLengthLimit?: number;
  /** `OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT`, else `OTEL_ATTRIBUTE_COUNT_LIMIT`; default 128. */
  attributeCountLimit?: number;
  /** `OTEL_SPAN_EVENT_COUNT_LIMIT`; default 128. */
  eventCountLimit?: number;
  /** `OTEL_SPAN_LINK_COUNT_LIMIT`; default 128. */
  linkCountLimit?: number;
  /** `OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT`; default 128. */
  attributePerEventCountLimit?: number;
  /** `OTEL_LINK_ATTRIBUTE_COUNT_LIMIT`; default 128. */
  attributePerLinkCountLimit?: number;
}

/**
 * @tracewire/core: the engine behind every tracewire adapter. Exports are by name; each section is
 * owned by one area of the package.
 */

// --- sdk (types shared with the official SDK) ---
export { ExportResultCode } from './sdk/types.js';
export type {
  ExportResult,
  InstrumentationScope,
  ReadableSpan,
  Resource,
  SpanExporter,
  SpanLimits,
  SpanProcessor,
  TimedEvent,
} from './sdk/types.js';

// --- sdk ---
/** Rate-limited `diag` reporting and fencing of user callbacks, shared by every adapter. */
export { errorMessage, fenced, report } from './sdk/report.js';
export { AsyncLocalStorageContextManager } from './sdk/context-manager.js';
export { RandomIdGenerator } from './sdk/id-generator.js';
export type { IdGenerator } from './sdk/id-generator.js';
export { DEFAULT_SERVICE_NAME, detectResource, TracewireResource } from './sdk/resource.js';
export type { DetectResourceOptions } from './sdk/resource.js';
export {
  AlwaysOffSampler,
  AlwaysOnSampler,
  ParentBasedSampler,
  SamplingDecision,
  TraceIdRatioBasedSampler,
} from './sdk/samplers.js';
export type { ParentBasedSamplerOptions, Sampler, SamplerName, SamplingResult } from './sdk/samplers.js';
export { NonRecordingSpan, Span } from './sdk/span.js';
export { Tracer } from './sdk/tracer.js';
export { TracewireTracerProvider } from './sdk/tracer-provider.js';
export type { TracewireTracerProviderOptions } from './sdk/tracer-provider.js';
export { traced } from './sdk/traced.js';
export type { TracedOptions } from './sdk/traced.js';
export { SDK_VERSION } from './sdk/version.js';

// --- propagation ---
export {
  B3Propagator,
  CompositePropagator,
  caseInsensitiveGetter,
  getB3SamplingDecision,
  propagatorFromNames,
  TRACE_FLAG_RANDOM,
  TraceState,
  W3CBaggagePropagator,
  W3CTraceContextPropagator,
} from './propagation/index.js';
export type {
  B3PropagatorOptions,
  B3SamplingDecision,
  CompositePropagatorOptions,
} from './propagation/index.js';

// --- export ---
export { BatchSpanProcessor } from './export/batch-processor.js';
export type { BatchSpanProcessorOptions, BatchSpanProcessorStats } from './export/batch-processor.js';
export { SimpleSpanProcessor } from './export/simple-processor.js';
export type { SimpleSpanProcessorOptions } from './export/simple-processor.js';
export { OtlpHttpExporter } from './export/otlp-http-exporter.js';
export type {
  CountedExportResult,
  OtlpHttpExporterOptions,
  OtlpHttpExporterStats,
} from './export/otlp-http-exporter.js';
export { ConsoleSpanExporter } from './export/console-exporter.js';
export type { ConsoleSpanExporterOptions } from './export/console-exporter.js';
export { encodeTraceRequest } from './export/otlp-proto.js';
export { encodeTraceRequestJson } from './export/otlp-json.js';
export { isTracingSuppressed, suppressTracing } from './export/suppress.js';

// --- http server lifecycle ---
export { createHttpServerTracing, requestTraceOf } from './http/server-tracing.js';
export type {
  HttpServerTracing,
  HttpServerTracingOptions,
  IgnoreMatcher,
  ServerRequestTrace,
} from './http/types.js';

// --- outgoing (client) ---
export { enableOutgoingTracing } from './client/index.js';
export type { OutgoingTracingOptions } from './client/index.js';

// --- start ---
export { start } from './sdk/start.js';
export type { PropagatorName, StartOptions, TraceExporterName, Tracewire } from './sdk/start.js';

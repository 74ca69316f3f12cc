/**
 * @tracewire/viewer: a local OTLP/HTTP receiver with a trace waterfall web UI, for development.
 * Exports are by name.
 */
export { OtlpDecodeError } from './model.js';
export type {
  AnyValue,
  DecodedRequest,
  DecodeLimits,
  KeyValue,
  OtlpResource,
  OtlpScope,
  SpanEvent,
  SpanLink,
  SpanRecord,
  SpanStatus,
} from './model.js';
export { decodeTraceRequestJson } from './otlp-json-decode.js';
export { decodeTraceRequestProto } from './otlp-proto-decode.js';
export { PERSIST_FORMAT, TraceStore } from './store.js';
export type {
  StoreStats,
  TraceDetail,
  TraceDetailSpan,
  TraceQuery,
  TraceStoreOptions,
  TraceSummary,
} from './store.js';
export { startViewer } from './viewer.js';
export type { Viewer, ViewerOptions } from './viewer.js';

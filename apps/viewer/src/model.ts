/**
 * The viewer's span model. It mirrors the OTLP/JSON mapping of `opentelemetry.proto.trace.v1`
 * (opentelemetry-proto `docs/specification.md`, "JSON Protobuf Encoding"): ids are lowercase hex,
 * 64-bit integers are decimal strings (exact), enums are integers, bytes are base64. Both decoders
 * (protobuf and JSON) produce it, the store keeps it, and the JSON API returns it unchanged, so a
 * value is never reinterpreted on the way from the wire to the page.
 */

/** `opentelemetry.proto.common.v1.AnyValue`: exactly one key is set; `{}` is an empty value. */
export type AnyValue =
  | { stringValue: string }
  | { boolValue: boolean }
  | { intValue: string }
  | { doubleValue: number }
  | { arrayValue: { values: AnyValue[] } }
  | { kvlistValue: { values: KeyValue[] } }
  | { bytesValue: string }
  | Record<string, never>;

/** `opentelemetry.proto.common.v1.KeyValue`. */
export interface KeyValue {
  key: string;
  value: AnyValue;
}

/** `opentelemetry.proto.resource.v1.Resource`, with the `schema_url` of its `ResourceSpans`. */
export interface OtlpResource {
  attributes: KeyValue[];
  droppedAttributesCount: number;
  schemaUrl: string;
}

/** `InstrumentationScope`, with the `schema_url` of its `ScopeSpans`. */
export interface OtlpScope {
  name: string;
  version: string;
  attributes: KeyValue[];
  droppedAttributesCount: number;
  schemaUrl: string;
}

/** `Span.Event`. */
export interface SpanEvent {
  timeUnixNano: string;
  name: string;
  attributes: KeyValue[];
  droppedAttributesCount: number;
}

/** `Span.Link`. */
export interface SpanLink {
  traceId: string;
  spanId: string;
  traceState: string;
  attributes: KeyValue[];
  droppedAttributesCount: number;
  flags: number;
}

/** `Status`: code 0 unset, 1 ok, 2 error. */
export interface SpanStatus {
  code: number;
  message: string;
}

/** One received span with its resource and scope (shared objects within one request). */
export interface SpanRecord {
  traceId: string;
  spanId: string;
  /** Empty string for a root span. */
  parentSpanId: string;
  traceState: string;
  flags: number;
  name: string;
  /** `SpanKind`: 0 unspecified, 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  kind: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: KeyValue[];
  droppedAttributesCount: number;
  events: SpanEvent[];
  droppedEventsCount: number;
  links: SpanLink[];
  droppedLinksCount: number;
  status: SpanStatus;
  resource: OtlpResource;
  scope: OtlpScope;
}

/** What a decoder made of one `ExportTraceServiceRequest`. */
export interface DecodedRequest {
  /** Valid spans. */
  spans: SpanRecord[];
  /** Spans refused (invalid ids); reported as `partial_success.rejected_spans`. */
  rejected: number;
  /** Why the first rejected span was refused; empty when none was. */
  rejectReason: string;
}

/**
 * Thrown by the decoders on malformed input. `tooLarge` marks input that is well formed so far but
 * over a decoding budget (answered with 413 rather than 400).
 *
 * @example
 * try {
 *   decodeTraceRequestProto(body);
 * } catch (err) {
 *   if (err instanceof OtlpDecodeError) console.log(err.tooLarge ? 413 : 400, err.message);
 * }
 */
export class OtlpDecodeError extends Error {
  readonly tooLarge: boolean;
  constructor(message: string, tooLarge = false) {
    super(message);
    this.name = 'OtlpDecodeError';
    this.tooLarge = tooLarge;
  }
}

/** Limits that keep hostile input from costing more than its size. */
export interface DecodeLimits {
  /** Deepest nesting of `arrayValue`/`kvlistValue` accepted. Default 32. */
  maxDepth?: number;
  /** Most decoded elements (spans, events, links, key/values, values) per request. Default 2,000,000. */
  maxElements?: number;
}

export const DEFAULT_MAX_DEPTH = 32;
export const DEFAULT_MAX_ELEMENTS = 2_000_000;

const ZERO_TRACE_ID = '00000000000000000000000000000000';
const ZERO_SPAN_ID = '0000000000000000';

/**
 * Why a span's ids are invalid, or undefined when they are fine. OTLP (`trace.proto`): `trace_id`
 * is 16 bytes and `span_id` 8 bytes, all-zero ids are invalid (W3C Trace Context §3.2.2.3), and
 * `parent_span_id` is empty for a root span or 8 bytes.
 */
export function invalidIdReason(traceId: string, spanId: string, parentSpanId: string): string | undefined {
  if (traceId.length !== 32 || traceId === ZERO_TRACE_ID) return 'invalid trace_id';
  if (spanId.length !== 16 || spanId === ZERO_SPAN_ID) return 'invalid span_id';
  if (parentSpanId.length !== 0 && parentSpanId.length !== 16) return 'invalid parent_span_id';
  return undefined;
}

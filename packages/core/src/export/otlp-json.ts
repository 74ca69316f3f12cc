/**
 * OTLP/JSON encoding of `ExportTraceServiceRequest` (OTLP specification, "JSON Protobuf Encoding"):
 * the proto3 JSON mapping with the OTLP exceptions: trace and span ids are lowercase **hex**
 * strings (not base64), enums are **integers**, keys are lowerCamelCase, and 64-bit integers
 * (`timeUnixNano`, `intValue`) are decimal strings. Field rules (grouping, kind + 1, flags) are
 * the same as the protobuf encoder's.
 */
import type { Attributes, HrTime, Link } from '@opentelemetry/api';
import type { ReadableSpan, TimedEvent } from '../sdk/types.js';
import { groupSpans, spanFlags } from './otlp-proto.js';

const MIN_INT64 = -(2 ** 63);
const MAX_INT64 = 2 ** 63;

type JsonAnyValue =
  | { stringValue: string }
  | { boolValue: boolean }
  | { intValue: string }
  | { doubleValue: number | string }
  | { bytesValue: string }
  | { arrayValue: { values: JsonAnyValue[] } }
  | { kvlistValue: { values: JsonKeyValue[] } }
  | Record<string, never>;
interface JsonKeyValue {
  key: string;
  value: JsonAnyValue;
}

/** HrTime as exact decimal nanoseconds (a string: the value exceeds 2^53). */
function hrTimeToString(t: HrTime): string {
  return (BigInt(Math.trunc(t[0])) * 1_000_000_000n + BigInt(Math.trunc(t[1]))).toString();
}

function intString(v: number): string {
  // Number#toString is not exact above 2^53 (it prints the shortest round-trip digits).
  return Number.isSafeInteger(v) ? String(v) : BigInt(v).toString();
}

function anyValue(v: unknown): JsonAnyValue {
  switch (typeof v) {
    case 'string':
      return { stringValue: v };
    case 'boolean':
      return { boolValue: v };
    case 'number':
      if (Number.isInteger(v) && v >= MIN_INT64 && v < MAX_INT64) return { intValue: intString(v) };
      // proto3 JSON: non-finite doubles are the strings "NaN", "Infinity", "-Infinity".
      return { doubleValue: Number.isFinite(v) ? v : String(v) };
    case 'bigint':
      return { intValue: v.toString() };
    case 'object':
      if (v === null) return {};
      if (Array.isArray(v)) return { arrayValue: { values: v.map(anyValue) } };
      if (v instanceof Uint8Array) return { bytesValue: Buffer.from(v).toString('base64') };
      return { kvlistValue: { values: keyValues(v as Record<string, unknown>) } };
    default:
      return {};
  }
}

function keyValues(attrs: Record<string, unknown> | undefined): JsonKeyValue[] {
  const out: JsonKeyValue[] = [];
  if (!attrs) return out;
  for (const key in attrs) {
    const value = attrs[key];
    if (value === undefined || !Object.hasOwn(attrs, key)) continue;
    out.push({ key, value: anyValue(value) });
  }
  return out;
}

function event(e: TimedEvent) {
  return {
    timeUnixNano: hrTimeToString(e.time),
    name: e.name,
    attributes: keyValues(e.attributes),
    droppedAttributesCount: e.droppedAttributesCount ?? 0,
  };
}

function link(l: Link) {
  const c = l.context;
  return {
    traceId: c.traceId,
    spanId: c.spanId,
    traceState: c.traceState?.serialize() ?? '',
    attributes: keyValues(l.attributes),
    droppedAttributesCount: l.droppedAttributesCount ?? 0,
    flags: spanFlags(c.traceFlags, c.isRemote),
  };
}

function span(s: ReadableSpan) {
  const ctx = s.spanContext();
  const parentId = s.parentSpanContext?.spanId ?? (s as { parentSpanId?: string }).parentSpanId ?? '';
  return {
    traceId: ctx.traceId,
    spanId: ctx.spanId,
    traceState: ctx.traceState?.serialize() ?? '',
    parentSpanId: parentId,
    flags: spanFlags(ctx.traceFlags, s.parentSpanContext?.isRemote),
    name: s.name,
    kind: (s.kind ?? 0) + 1,
    startTimeUnixNano: hrTimeToString(s.startTime),
    endTimeUnixNano: hrTimeToString(s.endTime),
    attributes: keyValues(s.attributes),
    droppedAttributesCount: s.droppedAttributesCount ?? 0,
    events: s.events.map(event),
    droppedEventsCount: s.droppedEventsCount ?? 0,
    links: s.links.map(link),
    droppedLinksCount: s.droppedLinksCount ?? 0,
    status: { code: s.status?.code ?? 0, message: s.status?.message ?? '' },
  };
}

/** The OTLP/JSON `ExportTraceServiceRequest` object for `spans`, before serialisation. */
export function toOtlpJsonObject(spans: readonly ReadableSpan[]) {
  return {
    resourceSpans: groupSpans(spans).map((rg) => ({
      resource: {
        attributes: keyValues(rg.resource?.attributes as Attributes | undefined),
        droppedAttributesCount: 0,
      },
      scopeSpans: rg.scopes.map((sg) => ({
        scope: {
          name: sg.scope.name,
          version: sg.scope.version ?? '',
          attributes: keyValues((sg.scope as { attributes?: Attributes }).attributes),
        },
        spans: sg.spans.map(span),
        schemaUrl: sg.scope.schemaUrl ?? '',
      })),
      schemaUrl: rg.resource?.schemaUrl ?? '',
    })),
  };
}

/**
 * Encode spans as an OTLP/HTTP JSON body (`application/json`).
 *
 * @example
 * ```ts
 * const body = encodeTraceRequestJson(spans);
 * await fetch('http://localhost:4318/v1/traces', {
 *   method: 'POST', headers: { 'content-type': 'application/json' }, body,
 * });
 * ```
 */
export function encodeTraceRequestJson(spans: readonly ReadableSpan[]): Buffer {
  return Buffer.from(JSON.stringify(toOtlpJsonObject(spans)), 'utf8');
}

/**
 * Read `partialSuccess` from an OTLP/JSON `ExportTraceServiceResponse` (`rejectedSpans` may be a
 * number or a decimal string, per the 64-bit integer rule). Undefined when absent or unparsable.
 */
export function decodePartialSuccessJson(
  body: Uint8Array,
): { rejectedSpans: number; errorMessage: string } | undefined {
  try {
    const msg = JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8'));
    const ps = msg?.partialSuccess ?? msg?.partial_success;
    if (!ps || typeof ps !== 'object') return undefined;
    const rejected = Number(ps.rejectedSpans ?? ps.rejected_spans ?? 0);
    const message = ps.errorMessage ?? ps.error_message ?? '';
    return {
      rejectedSpans: Number.isFinite(rejected) ? rejected : 0,
      errorMessage: typeof message === 'string' ? message : String(message),
    };
  } catch {
    return undefined;
  }
}

/**
 * Decoder for OTLP/JSON `ExportTraceServiceRequest` bodies (opentelemetry-proto
 * `docs/specification.md`, "JSON Protobuf Encoding"): lowerCamelCase keys, trace/span ids as hex,
 * enums as integers (enum names are accepted too, as the proto3 JSON mapping allows), 64-bit
 * integers as decimal strings or numbers, bytes as base64, unknown fields ignored. A value of the
 * wrong JSON type is malformed input ({@link OtlpDecodeError}); invalid ids reject the span only.
 */
import {
  type AnyValue,
  DEFAULT_MAX_DEPTH,
  DEFAULT_MAX_ELEMENTS,
  type DecodedRequest,
  type DecodeLimits,
  type KeyValue,
  OtlpDecodeError,
  type OtlpResource,
  type OtlpScope,
  type SpanEvent,
  type SpanLink,
  type SpanRecord,
} from './model.js';
import { filterInvalid } from './otlp-proto-decode.js';

type Json = Record<string, unknown>;

const SPAN_KINDS: Record<string, number> = {
  SPAN_KIND_UNSPECIFIED: 0,
  SPAN_KIND_INTERNAL: 1,
  SPAN_KIND_SERVER: 2,
  SPAN_KIND_CLIENT: 3,
  SPAN_KIND_PRODUCER: 4,
  SPAN_KIND_CONSUMER: 5,
};
const STATUS_CODES: Record<string, number> = {
  STATUS_CODE_UNSET: 0,
  STATUS_CODE_OK: 1,
  STATUS_CODE_ERROR: 2,
};
const HEX_RE = /^[0-9a-fA-F]*$/;
const UINT_RE = /^\d+$/;
const INT_RE = /^-?\d+$/;
const BASE64_RE = /^[A-Za-z0-9+/_-]*={0,2}$/;

class Ctx {
  budget: number;
  readonly maxDepth: number;
  constructor(limits: DecodeLimits | undefined) {
    this.budget = limits?.maxElements ?? DEFAULT_MAX_ELEMENTS;
    this.maxDepth = limits?.maxDepth ?? DEFAULT_MAX_DEPTH;
  }
  element(): void {
    if (--this.budget < 0) throw new OtlpDecodeError('too many elements in request', true);
  }
}

function bad(path: string, expected: string): never {
  throw new OtlpDecodeError(`${path}: expected ${expected}`);
}

function obj(v: unknown, path: string): Json | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) bad(path, 'an object');
  return v as Json;
}

function arr(v: unknown, path: string): unknown[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) bad(path, 'an array');
  return v;
}

function str(v: unknown, path: string): string {
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') bad(path, 'a string');
  return v;
}

function hex(v: unknown, path: string): string {
  const s = str(v, path);
  if (!HEX_RE.test(s)) bad(path, 'a hex string');
  return s.toLowerCase();
}

/** uint32 fields (counts, flags). */
function u32(v: unknown, path: string): number {
  if (v === undefined || v === null) return 0;
  const n = typeof v === 'string' && UINT_RE.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 0xffffffff) bad(path, 'a uint32');
  return n;
}

/** fixed64 times: canonical decimal string, exact. */
function u64(v: unknown, path: string): string {
  if (v === undefined || v === null) return '0';
  if (typeof v === 'string') {
    if (!UINT_RE.test(v) || v.length > 20) bad(path, 'a uint64 decimal string');
    const b = BigInt(v);
    if (b > 0xffffffffffffffffn) bad(path, 'a uint64 decimal string');
    return b.toString();
  }
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return BigInt(v).toString();
  return bad(path, 'a uint64');
}

function i64(v: unknown, path: string): string {
  if (typeof v === 'string') {
    if (!INT_RE.test(v) || v.length > 20) bad(path, 'an int64 decimal string');
    return BigInt.asIntN(64, BigInt(v)).toString();
  }
  if (typeof v === 'number' && Number.isInteger(v)) return BigInt.asIntN(64, BigInt(v)).toString();
  return bad(path, 'an int64');
}

function enumValue(v: unknown, names: Record<string, number>, path: string): number {
  if (v === undefined || v === null) return 0;
  if (typeof v === 'string' && Object.hasOwn(names, v)) return names[v]!;
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0x7fffffff) return v;
  return bad(path, 'an enum integer');
}

function anyValue(v: unknown, ctx: Ctx, depth: number, path: string): AnyValue {
  ctx.element();
  const o = obj(v, path);
  if (o === undefined) return {};
  if (o.stringValue !== undefined && o.stringValue !== null) return { stringValue: str(o.stringValue, path) };
  if (o.boolValue !== undefined && o.boolValue !== null) {
    if (typeof o.boolValue !== 'boolean') bad(`${path}.boolValue`, 'a boolean');
    return { boolValue: o.boolValue };
  }
  if (o.intValue !== undefined && o.intValue !== null)
    return { intValue: i64(o.intValue, `${path}.intValue`) };
  if (o.doubleValue !== undefined && o.doubleValue !== null) {
    const d = o.doubleValue;
    if (typeof d === 'number') return { doubleValue: d };
    // proto3 JSON mapping writes non-finite doubles as strings.
    if (d === 'NaN' || d === 'Infinity' || d === '-Infinity') return { doubleValue: Number(d) };
    bad(`${path}.doubleValue`, 'a number');
  }
  if (o.arrayValue !== undefined && o.arrayValue !== null) {
    if (depth >= ctx.maxDepth) throw new OtlpDecodeError(`${path}: AnyValue nested too deeply`);
    const list = arr(obj(o.arrayValue, `${path}.arrayValue`)?.values, `${path}.arrayValue.values`);
    return { arrayValue: { values: list.map((x, i) => anyValue(x, ctx, depth + 1, `${path}[${i}]`)) } };
  }
  if (o.kvlistValue !== undefined && o.kvlistValue !== null) {
    if (depth >= ctx.maxDepth) throw new OtlpDecodeError(`${path}: AnyValue nested too deeply`);
    const list = arr(obj(o.kvlistValue, `${path}.kvlistValue`)?.values, `${path}.kvlistValue.values`);
    return { kvlistValue: { values: list.map((x, i) => keyValue(x, ctx, depth + 1, `${path}[${i}]`)) } };
  }
  if (o.bytesValue !== undefined && o.bytesValue !== null) {
    const b = str(o.bytesValue, `${path}.bytesValue`);
    if (!BASE64_RE.test(b)) bad(`${path}.bytesValue`, 'base64');
    return { bytesValue: Buffer.from(b, 'base64').toString('base64') };
  }
  return {};
}

function keyValue(v: unknown, ctx: Ctx, depth: number, path: string): KeyValue {
  ctx.element();
  const o = obj(v, path) ?? {};
  return { key: str(o.key, `${path}.key`), value: anyValue(o.value, ctx, depth, `${path}.value`) };
}

function attributes(v: unknown, ctx: Ctx, path: string): KeyValue[] {
  return arr(v, path).map((x, i) => keyValue(x, ctx, 0, `${path}[${i}]`));
}

function event(v: unknown, ctx: Ctx, path: string): SpanEvent {
  ctx.element();
  const o = obj(v, path) ?? {};
  return {
    timeUnixNano: u64(o.timeUnixNano, `${path}.timeUnixNano`),
    name: str(o.name, `${path}.name`),
    attributes: attributes(o.attributes, ctx, `${path}.attributes`),
    droppedAttributesCount: u32(o.droppedAttributesCount, `${path}.droppedAttributesCount`),
  };
}

function link(v: unknown, ctx: Ctx, path: string): SpanLink {
  ctx.element();
  const o = obj(v, path) ?? {};
  return {
    traceId: hex(o.traceId, `${path}.traceId`),
    spanId: hex(o.spanId, `${path}.spanId`),
    traceState: str(o.traceState, `${path}.traceState`),
    attributes: attributes(o.attributes, ctx, `${path}.attributes`),
    droppedAttributesCount: u32(o.droppedAttributesCount, `${path}.droppedAttributesCount`),
    flags: u32(o.flags, `${path}.flags`),
  };
}

function span(v: unknown, ctx: Ctx, res: OtlpResource, sc: OtlpScope, path: string): SpanRecord {
  ctx.element();
  const o = obj(v, path) ?? {};
  const status = obj(o.status, `${path}.status`) ?? {};
  return {
    traceId: hex(o.traceId, `${path}.traceId`),
    spanId: hex(o.spanId, `${path}.spanId`),
    parentSpanId: hex(o.parentSpanId, `${path}.parentSpanId`),
    traceState: str(o.traceState, `${path}.traceState`),
    flags: u32(o.flags, `${path}.flags`),
    name: str(o.name, `${path}.name`),
    kind: enumValue(o.kind, SPAN_KINDS, `${path}.kind`),
    startTimeUnixNano: u64(o.startTimeUnixNano, `${path}.startTimeUnixNano`),
    endTimeUnixNano: u64(o.endTimeUnixNano, `${path}.endTimeUnixNano`),
    attributes: attributes(o.attributes, ctx, `${path}.attributes`),
    droppedAttributesCount: u32(o.droppedAttributesCount, `${path}.droppedAttributesCount`),
    events: arr(o.events, `${path}.events`).map((x, i) => event(x, ctx, `${path}.events[${i}]`)),
    droppedEventsCount: u32(o.droppedEventsCount, `${path}.droppedEventsCount`),
    links: arr(o.links, `${path}.links`).map((x, i) => link(x, ctx, `${path}.links[${i}]`)),
    droppedLinksCount: u32(o.droppedLinksCount, `${path}.droppedLinksCount`),
    status: {
      code: enumValue(status.code, STATUS_CODES, `${path}.status.code`),
      message: str(status.message, `${path}.status.message`),
    },
    resource: res,
    scope: sc,
  };
}

/**
 * Decodes an OTLP/JSON `ExportTraceServiceRequest` (already parsed with `JSON.parse`, or as text).
 *
 * @example
 * const { spans, rejected } = decodeTraceRequestJson(JSON.parse(body));
 */
export function decodeTraceRequestJson(input: unknown, limits?: DecodeLimits): DecodedRequest {
  const ctx = new Ctx(limits);
  const root = obj(input, '$');
  if (root === undefined) throw new OtlpDecodeError('$: expected an ExportTraceServiceRequest object');
  const out: DecodedRequest = { spans: [], rejected: 0, rejectReason: '' };
  arr(root.resourceSpans, 'resourceSpans').forEach((rsv, i) => {
    const p = `resourceSpans[${i}]`;
    const rs = obj(rsv, p) ?? {};
    const r = obj(rs.resource, `${p}.resource`) ?? {};
    const res: OtlpResource = {
      attributes: attributes(r.attributes, ctx, `${p}.resource.attributes`),
      droppedAttributesCount: u32(r.droppedAttributesCount, `${p}.resource.droppedAttributesCount`),
      schemaUrl: str(rs.schemaUrl, `${p}.schemaUrl`),
    };
    const start = out.spans.length;
    arr(rs.scopeSpans, `${p}.scopeSpans`).forEach((ssv, j) => {
      const q = `${p}.scopeSpans[${j}]`;
      const ss = obj(ssv, q) ?? {};
      const s = obj(ss.scope, `${q}.scope`) ?? {};
      const sc: OtlpScope = {
        name: str(s.name, `${q}.scope.name`),
        version: str(s.version, `${q}.scope.version`),
        attributes: attributes(s.attributes, ctx, `${q}.scope.attributes`),
        droppedAttributesCount: u32(s.droppedAttributesCount, `${q}.scope.droppedAttributesCount`),
        schemaUrl: str(ss.schemaUrl, `${q}.schemaUrl`),
      };
      arr(ss.spans, `${q}.spans`).forEach((sv, k) => {
        out.spans.push(span(sv, ctx, res, sc, `${q}.spans[${k}]`));
      });
    });
    filterInvalid(out, start);
  });
  return out;
}

/**
 * Validates the parts of a persistence file (see `store.ts`) with the same rules as OTLP/JSON
 * input: spans carry the index of their resource and scope. Spans with invalid ids or indexes are
 * skipped; a value of the wrong type throws {@link OtlpDecodeError}.
 */
export function decodePersistedSpans(
  resources: unknown[],
  scopes: unknown[],
  spans: unknown[],
): SpanRecord[] {
  const ctx = new Ctx({ maxElements: Number.MAX_SAFE_INTEGER });
  const res: OtlpResource[] = resources.map((rv, i) => {
    const r = obj(rv, `resources[${i}]`) ?? {};
    return {
      attributes: attributes(r.attributes, ctx, `resources[${i}].attributes`),
      droppedAttributesCount: u32(r.droppedAttributesCount, `resources[${i}].droppedAttributesCount`),
      schemaUrl: str(r.schemaUrl, `resources[${i}].schemaUrl`),
    };
  });
  const scs: OtlpScope[] = scopes.map((sv, i) => {
    const s = obj(sv, `scopes[${i}]`) ?? {};
    return {
      name: str(s.name, `scopes[${i}].name`),
      version: str(s.version, `scopes[${i}].version`),
      attributes: attributes(s.attributes, ctx, `scopes[${i}].attributes`),
      droppedAttributesCount: u32(s.droppedAttributesCount, `scopes[${i}].droppedAttributesCount`),
      schemaUrl: str(s.schemaUrl, `scopes[${i}].schemaUrl`),
    };
  });
  const out: DecodedRequest = { spans: [], rejected: 0, rejectReason: '' };
  spans.forEach((sv, i) => {
    const o = obj(sv, `spans[${i}]`) ?? {};
    const r = typeof o.resource === 'number' ? res[o.resource] : undefined;
    const s = typeof o.scope === 'number' ? scs[o.scope] : undefined;
    if (r !== undefined && s !== undefined) out.spans.push(span(o, ctx, r, s, `spans[${i}]`));
  });
  filterInvalid(out, 0);
  return out.spans;
}

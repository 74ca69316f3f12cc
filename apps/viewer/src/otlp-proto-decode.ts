/**
 * A hand-written decoder for `opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest`
 * (protobuf binary wire format, https://protobuf.dev/programming-guides/encoding/), producing the
 * OTLP/JSON-shaped {@link SpanRecord}s of `model.ts`.
 *
 * Built for hostile input: every length is checked against the end of its enclosing message before
 * it is used, varints are at most 10 bytes, nesting of `AnyValue` is limited, the number of decoded
 * elements is budgeted (a 2-byte empty `KeyValue` must not become a 100-byte object a million
 * times over), every loop advances or throws, and errors are {@link OtlpDecodeError}s.
 * Unknown fields, and known fields with an unexpected wire type, are skipped as the protobuf rules
 * require for forward compatibility; groups (wire types 3/4) are skipped with a depth limit.
 */
import {
  type AnyValue,
  DEFAULT_MAX_DEPTH,
  DEFAULT_MAX_ELEMENTS,
  type DecodedRequest,
  type DecodeLimits,
  invalidIdReason,
  type KeyValue,
  OtlpDecodeError,
  type OtlpResource,
  type OtlpScope,
  type SpanEvent,
  type SpanLink,
  type SpanRecord,
} from './model.js';

const VARINT = 0;
const I64 = 1;
const LEN = 2;
const SGROUP = 3;
const EGROUP = 4;
const I32 = 5;

const HEX: string[] = [];
for (let i = 0; i < 256; i++) HEX.push(i.toString(16).padStart(2, '0'));

const TWO_32 = 4294967296;

/**
 * `Buffer#utf8Slice` is what `toString('utf8', start, end)` calls after dispatching on the
 * encoding name; calling it directly saves about a fifth of the decoding time (profiled). It is
 * undocumented, so fall back to `toString` on a runtime without it (never patching `Buffer`).
 */
const utf8Slice: (this: Buffer, start: number, end: number) => string =
  (Buffer.prototype as Buffer & { utf8Slice?: (start: number, end: number) => string }).utf8Slice ??
  function utf8SliceFallback(this: Buffer, start: number, end: number) {
    return this.toString('utf8', start, end);
  };

class Reader {
  readonly buf: Buffer;
  pos = 0;
  budget: number;
  readonly maxDepth: number;
  /** High 32 bits of the last 64-bit varint read by {@link varint64}. */
  hi = 0;
  constructor(buf: Buffer, limits: DecodeLimits | undefined) {
    this.buf = buf;
    this.budget = limits?.maxElements ?? DEFAULT_MAX_ELEMENTS;
    this.maxDepth = limits?.maxDepth ?? DEFAULT_MAX_DEPTH;
  }

  /** Counts one decoded element against the budget. */
  element(): void {
    if (--this.budget < 0) throw new OtlpDecodeError('too many elements in request', true);
  }

  /** A varint that must fit 32 bits unsigned (tags, lengths, enums, counts); higher bits are dropped like protobuf's uint32. */
  varint32(end: number): number {
    const buf = this.buf;
    let pos = this.pos;
    if (pos >= end) throw new OtlpDecodeError('truncated varint');
    let b = buf[pos++]!;
    if (b < 0x80) {
      this.pos = pos;
      return b;
    }
    let value = b & 0x7f;
    let shift = 7;
    for (let i = 1; i < 10; i++) {
      if (pos >= end) throw new OtlpDecodeError('truncated varint');
      b = buf[pos++]!;
      if (shift < 32) value |= (b & 0x7f) << shift;
      shift += 7;
      if (b < 0x80) {
        this.pos = pos;
        return value >>> 0;
      }
    }
    throw new OtlpDecodeError('varint longer than 10 bytes');
  }

  /** A 64-bit varint: returns the low 32 bits, sets {@link hi}. */
  varint64(end: number): number {
    const buf = this.buf;
    let pos = this.pos;
    let lo = 0;
    let hi = 0;
    for (let i = 0; i < 10; i++) {
      if (pos >= end) throw new OtlpDecodeError('truncated varint');
      const b = buf[pos++]!;
      if (i < 4) lo |= (b & 0x7f) << (i * 7);
      else if (i === 4) {
        lo |= (b & 0x0f) << 28;
        hi |= (b & 0x7f) >> 4;
      } else hi |= (b & 0x7f) << (i * 7 - 32);
      if (b < 0x80) {
        this.pos = pos;
        this.hi = hi >>> 0;
        return lo >>> 0;
      }
    }
    throw new OtlpDecodeError('varint longer than 10 bytes');
  }

  /** Start of a length-delimited field; returns its end, checked against the enclosing end. */
  len(end: number): number {
    const n = this.varint64(end);
    const fieldEnd = this.pos + n;
    // A length must fit the rest of the enclosing message (and so 32 bits): never truncate it.
    if (this.hi !== 0 || fieldEnd > end) throw new OtlpDecodeError('length exceeds enclosing message');
    return fieldEnd;
  }

  string(end: number): string {
    const e = this.len(end);
    const s = e === this.pos ? '' : utf8Slice.call(this.buf, this.pos, e);
    this.pos = e;
    return s;
  }

  hex(end: number): string {
    const e = this.len(end);
    const buf = this.buf;
    let s = '';
    for (let p = this.pos; p < e; p++) s += HEX[buf[p]!];
    this.pos = e;
    return s;
  }

  fixed32(end: number): number {
    if (this.pos + 4 > end) throw new OtlpDecodeError('truncated fixed32');
    const v = this.buf.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }

  /** An unsigned fixed64 as an exact decimal string (times in nanoseconds exceed 2^53). */
  fixed64(end: number): string {
    if (this.pos + 8 > end) throw new OtlpDecodeError('truncated fixed64');
    const lo = this.buf.readUInt32LE(this.pos);
    const hi = this.buf.readUInt32LE(this.pos + 4);
    this.pos += 8;
    return u64String(lo, hi);
  }

  double(end: number): number {
    if (this.pos + 8 > end) throw new OtlpDecodeError('truncated double');
    const v = this.buf.readDoubleLE(this.pos);
    this.pos += 8;
    return v;
  }

  skip(wire: number, field: number, end: number, depth = 0): void {
    switch (wire) {
      case VARINT:
        this.varint64(end);
        return;
      case I64:
        if ((this.pos += 8) > end) throw new OtlpDecodeError('truncated field');
        return;
      case LEN:
        this.pos = this.len(end);
        return;
      case I32:
        if ((this.pos += 4) > end) throw new OtlpDecodeError('truncated field');
        return;
      case SGROUP: {
        // Deprecated groups: skip nested fields until the matching end-group tag.
        if (depth >= this.maxDepth) throw new OtlpDecodeError('groups nested too deeply');
        for (;;) {
          const tag = this.varint32(end);
          const w = tag & 7;
          if (w === EGROUP) {
            if (tag >>> 3 !== field) throw new OtlpDecodeError('mismatched end group');
            return;
          }
          this.skip(w, tag >>> 3, end, depth + 1);
        }
      }
      default:
        throw new OtlpDecodeError(`invalid wire type ${wire}`);
    }
  }
}

/**
 * An unsigned 64-bit value (two 32-bit halves) as an exact decimal string, without BigInt (which
 * costs more than the rest of a span's decoding): long division by 1e9 over 16-bit limbs keeps
 * every intermediate below 2^53.
 */
export function u64String(lo: number, hi: number): string {
  if (hi < 0x200000) return String(hi * TWO_32 + lo);
  let cur = hi >>> 16;
  let q3 = Math.floor(cur / 1e9);
  let rem = cur - q3 * 1e9;
  cur = rem * 65536 + (hi & 0xffff);
  const q2 = Math.floor(cur / 1e9);
  rem = cur - q2 * 1e9;
  cur = rem * 65536 + (lo >>> 16);
  const q1 = Math.floor(cur / 1e9);
  rem = cur - q1 * 1e9;
  cur = rem * 65536 + (lo & 0xffff);
  const q0 = Math.floor(cur / 1e9);
  rem = cur - q0 * 1e9;
  q3 = q3 * 281474976710656 + q2 * 4294967296 + q1 * 65536 + q0;
  const low = String(rem);
  return `${q3}${'000000000'.slice(low.length)}${low}`;
}

/** A signed (two's complement) 64-bit value as an exact decimal string. */
export function i64String(lo: number, hi: number): string {
  if (hi < 0x200000) return hi === 0 ? String(lo) : String(hi * TWO_32 + lo);
  if (hi >= 0x80000000) {
    // Negative (two's complement): -(~value + 1).
    const nlo = (~lo + 1) >>> 0;
    const nhi = (~hi + (nlo === 0 ? 1 : 0)) >>> 0;
    return `-${u64String(nlo, nhi)}`;
  }
  return u64String(lo, hi);
}

function anyValue(r: Reader, end: number, depth: number): AnyValue {
  r.element();
  // Proto3 oneof: the last value on the wire wins.
  let v: AnyValue = {};
  while (r.pos < end) {
    const tag = r.varint32(end);
    const wire = tag & 7;
    switch (tag >>> 3) {
      case 1:
        if (wire !== LEN) break;
        v = { stringValue: r.string(end) };
        continue;
      case 2:
        if (wire !== VARINT) break;
        v = { boolValue: (r.varint64(end) | r.hi) !== 0 };
        continue;
      case 3:
        if (wire !== VARINT) break;
        {
          const lo = r.varint64(end);
          v = { intValue: i64String(lo, r.hi) };
        }
        continue;
      case 4:
        if (wire !== I64) break;
        v = { doubleValue: r.double(end) };
        continue;
      case 5: {
        if (wire !== LEN) break;
        if (depth >= r.maxDepth) throw new OtlpDecodeError('AnyValue nested too deeply');
        const e = r.len(end);
        const values: AnyValue[] = [];
        while (r.pos < e) {
          const t = r.varint32(e);
          if (t === 0x0a) {
            const ve = r.len(e);
            values.push(anyValue(r, ve, depth + 1));
            r.pos = ve;
          } else r.skip(t & 7, t >>> 3, e);
        }
        v = { arrayValue: { values } };
        continue;
      }
      case 6: {
        if (wire !== LEN) break;
        if (depth >= r.maxDepth) throw new OtlpDecodeError('AnyValue nested too deeply');
        const e = r.len(end);
        const values: KeyValue[] = [];
        while (r.pos < e) {
          const t = r.varint32(e);
          if (t === 0x0a) {
            const ke = r.len(e);
            values.push(keyValue(r, ke, depth + 1));
            r.pos = ke;
          } else r.skip(t & 7, t >>> 3, e);
        }
        v = { kvlistValue: { values } };
        continue;
      }
      case 7: {
        if (wire !== LEN) break;
        const e = r.len(end);
        v = { bytesValue: r.buf.toString('base64', r.pos, e) };
        r.pos = e;
        continue;
      }
    }
    r.skip(wire, tag >>> 3, end);
  }
  return v;
}

function keyValue(r: Reader, end: number, depth: number): KeyValue {
  r.element();
  let key = '';
  let value: AnyValue = {};
  while (r.pos < end) {
    const tag = r.varint32(end);
    if (tag === 0x0a) key = r.string(end);
    else if (tag === 0x12) {
      const e = r.len(end);
      value = anyValue(r, e, depth);
      r.pos = e;
    } else r.skip(tag & 7, tag >>> 3, end);
  }
  return { key, value };
}

/** Appends a `KeyValue` field (already past its tag) to `into`. */
function pushKeyValue(r: Reader, end: number, into: KeyValue[]): void {
  const e = r.len(end);
  into.push(keyValue(r, e, 0));
  r.pos = e;
}

function resource(r: Reader, end: number, res: OtlpResource): void {
  while (r.pos < end) {
    const tag = r.varint32(end);
    if (tag === 0x0a) pushKeyValue(r, end, res.attributes);
    else if (tag === 0x10) res.droppedAttributesCount = r.varint32(end);
    else r.skip(tag & 7, tag >>> 3, end);
  }
}

function scope(r: Reader, end: number, s: OtlpScope): void {
  while (r.pos < end) {
    const tag = r.varint32(end);
    if (tag === 0x0a) s.name = r.string(end);
    else if (tag === 0x12) s.version = r.string(end);
    else if (tag === 0x1a) pushKeyValue(r, end, s.attributes);
    else if (tag === 0x20) s.droppedAttributesCount = r.varint32(end);
    else r.skip(tag & 7, tag >>> 3, end);
  }
}

function event(r: Reader, end: number): SpanEvent {
  r.element();
  const ev: SpanEvent = { timeUnixNano: '0', name: '', attributes: [], droppedAttributesCount: 0 };
  while (r.pos < end) {
    const tag = r.varint32(end);
    if (tag === 0x09) ev.timeUnixNano = r.fixed64(end);
    else if (tag === 0x12) ev.name = r.string(end);
    else if (tag === 0x1a) pushKeyValue(r, end, ev.attributes);
    else if (tag === 0x20) ev.droppedAttributesCount = r.varint32(end);
    else r.skip(tag & 7, tag >>> 3, end);
  }
  return ev;
}

function link(r: Reader, end: number): SpanLink {
  r.element();
  const l: SpanLink = {
    traceId: '',
    spanId: '',
    traceState: '',
    attributes: [],
    droppedAttributesCount: 0,
    flags: 0,
  };
  while (r.pos < end) {
    const tag = r.varint32(end);
    if (tag === 0x0a) l.traceId = r.hex(end);
    else if (tag === 0x12) l.spanId = r.hex(end);
    else if (tag === 0x1a) l.traceState = r.string(end);
    else if (tag === 0x22) pushKeyValue(r, end, l.attributes);
    else if (tag === 0x28) l.droppedAttributesCount = r.varint32(end);
    else if (tag === 0x35) l.flags = r.fixed32(end);
    else r.skip(tag & 7, tag >>> 3, end);
  }
  return l;
}

function span(r: Reader, end: number, res: OtlpResource, sc: OtlpScope): SpanRecord {
  r.element();
  const s: SpanRecord = {
    traceId: '',
    spanId: '',
    parentSpanId: '',
    traceState: '',
    flags: 0,
    name: '',
    kind: 0,
    startTimeUnixNano: '0',
    endTimeUnixNano: '0',
    attributes: [],
    droppedAttributesCount: 0,
    events: [],
    droppedEventsCount: 0,
    links: [],
    droppedLinksCount: 0,
    status: { code: 0, message: '' },
    resource: res,
    scope: sc,
  };
  while (r.pos < end) {
    const tag = r.varint32(end);
    switch (tag) {
      case 0x0a:
        s.traceId = r.hex(end);
        break;
      case 0x12:
        s.spanId = r.hex(end);
        break;
      case 0x1a:
        s.traceState = r.string(end);
        break;
      case 0x22:
        s.parentSpanId = r.hex(end);
        break;
      case 0x2a:
        s.name = r.string(end);
        break;
      case 0x30:
        s.kind = r.varint32(end);
        break;
      case 0x39:
        s.startTimeUnixNano = r.fixed64(end);
        break;
      case 0x41:
        s.endTimeUnixNano = r.fixed64(end);
        break;
      case 0x4a:
        pushKeyValue(r, end, s.attributes);
        break;
      case 0x50:
        s.droppedAttributesCount = r.varint32(end);
        break;
      case 0x5a: {
        const e = r.len(end);
        s.events.push(event(r, e));
        r.pos = e;
        break;
      }
      case 0x60:
        s.droppedEventsCount = r.varint32(end);
        break;
      case 0x6a: {
        const e = r.len(end);
        s.links.push(link(r, e));
        r.pos = e;
        break;
      }
      case 0x70:
        s.droppedLinksCount = r.varint32(end);
        break;
      case 0x7a: {
        // Status: message = 2, code = 3 (field 1 is the deprecated code, ignored per trace.proto).
        const e = r.len(end);
        while (r.pos < e) {
          const t = r.varint32(e);
          if (t === 0x12) s.status.message = r.string(e);
          else if (t === 0x18) s.status.code = r.varint32(e);
          else r.skip(t & 7, t >>> 3, e);
        }
        break;
      }
      case 0x85: // field 16, fixed32: flags
        s.flags = r.fixed32(end);
        break;
      default:
        r.skip(tag & 7, tag >>> 3, end);
    }
  }
  return s;
}

/**
 * Decodes an `ExportTraceServiceRequest`. Spans with invalid ids are counted in `rejected`
 * instead of returned (OTLP/HTTP "Partial Success"); anything structurally wrong throws
 * {@link OtlpDecodeError}.
 *
 * @example
 * const { spans, rejected } = decodeTraceRequestProto(body);
 */
export function decodeTraceRequestProto(body: Uint8Array, limits?: DecodeLimits): DecodedRequest {
  const buf = Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const r = new Reader(buf, limits);
  const out: DecodedRequest = { spans: [], rejected: 0, rejectReason: '' };
  const end = buf.length;
  while (r.pos < end) {
    const tag = r.varint32(end);
    if (tag !== 0x0a) {
      r.skip(tag & 7, tag >>> 3, end);
      continue;
    }
    resourceSpans(r, r.len(end), out);
  }
  return out;
}

function resourceSpans(r: Reader, end: number, out: DecodedRequest): void {
  // The resource and schema_url may come after the scope spans on the wire; collect spans first
  // with a placeholder resource and fill it in once the message is read.
  const res: OtlpResource = { attributes: [], droppedAttributesCount: 0, schemaUrl: '' };
  const start = out.spans.length;
  while (r.pos < end) {
    const tag = r.varint32(end);
    if (tag === 0x0a) {
      const e = r.len(end);
      resource(r, e, res);
      r.pos = e;
    } else if (tag === 0x12) {
      scopeSpans(r, r.len(end), res, out);
    } else if (tag === 0x1a) res.schemaUrl = r.string(end);
    else r.skip(tag & 7, tag >>> 3, end);
  }
  // Validate after the whole ResourceSpans is read so the counts do not depend on field order.
  filterInvalid(out, start);
  r.pos = end;
}

function scopeSpans(r: Reader, end: number, res: OtlpResource, out: DecodedRequest): void {
  const sc: OtlpScope = { name: '', version: '', attributes: [], droppedAttributesCount: 0, schemaUrl: '' };
  while (r.pos < end) {
    const tag = r.varint32(end);
    if (tag === 0x0a) {
      const e = r.len(end);
      scope(r, e, sc);
      r.pos = e;
    } else if (tag === 0x12) {
      const e = r.len(end);
      out.spans.push(span(r, e, res, sc));
      r.pos = e;
    } else if (tag === 0x1a) sc.schemaUrl = r.string(end);
    else r.skip(tag & 7, tag >>> 3, end);
  }
  r.pos = end;
}

/** Removes spans from `start` on whose ids are invalid, counting them as rejected. */
export function filterInvalid(out: DecodedRequest, start: number): void {
  const spans = out.spans;
  let w = start;
  for (let i = start; i < spans.length; i++) {
    const s = spans[i]!;
    // An all-zero parent means "no parent" for some exporters; treat it as a root.
    if (s.parentSpanId === '0000000000000000') s.parentSpanId = '';
    const reason = invalidIdReason(s.traceId, s.spanId, s.parentSpanId);
    if (reason === undefined) spans[w++] = s;
    else {
      if (out.rejected === 0) out.rejectReason = `${reason} (span "${s.name.slice(0, 100)}")`;
      out.rejected++;
    }
  }
  spans.length = w;
}

/**
 * A hand-written OTLP protobuf encoder for `ExportTraceServiceRequest`
 * (opentelemetry-proto `collector/trace/v1/trace_service.proto`, `trace/v1/trace.proto`,
 * `common/v1/common.proto`, `resource/v1/resource.proto`).
 *
 * Why hand-written: the encode step is a large share of the per-span export cost. This encoder
 * writes straight into one growable, reused buffer in a single pass; a length-delimited field
 * reserves the number of bytes its length will most likely need and is back-patched (its bytes
 * moved with one `copyWithin`) when the guess was wrong, which for a span or an attribute is rare.
 * Short strings are UTF-8 encoded by a JS loop (a native call costs more than the copy for the ~20
 * short strings of a span); long strings go through `Buffer#write`. Repeated span attributes are
 * copied from the previous span (see `putSpanAttributes`). No per-field allocation.
 *
 * Field numbers and wire types are from the .proto files above; they are written in field order.
 * Default values (0, empty) are omitted as proto3 allows, so decoders see the defaults.
 */
import type { Attributes, AttributeValue, HrTime, Link, SpanContext } from '@opentelemetry/api';
import type { InstrumentationScope, ReadableSpan, Resource, TimedEvent } from '../sdk/types.js';
import { Span } from '../sdk/span.js';

// Wire types (protobuf encoding spec).
const VARINT = 0;
const I64 = 1;
const LEN = 2;
const I32 = 5;
const tag = (field: number, wire: number): number => (field << 3) | wire;

const INITIAL_CAPACITY = 256 * 1024;
/** Above this capacity the buffer is dropped after an encode, so one huge batch does not pin memory. */
const RETAIN_CAPACITY = 8 * 1024 * 1024;

/** Span.flags bits (trace.proto, `SpanFlags`): 0-7 W3C trace flags, 8 HAS_IS_REMOTE, 9 IS_REMOTE. */
const SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE = 0x100;
const SPAN_FLAGS_CONTEXT_IS_REMOTE = 0x200;

// Two's-complement limits for int64 (AnyValue.int_value); integers outside go to double_value.
const MIN_INT64 = -(2 ** 63);
const MAX_INT64 = 2 ** 63;

const HEX = new Uint8Array(128);
for (let i = 0; i < 10; i++) HEX[48 + i] = i;
for (let i = 0; i < 6; i++) {
  HEX[65 + i] = 10 + i;
  HEX[97 + i] = 10 + i;
}
/** Byte value of a pair of hex digits, indexed by `(c1 & 0x7f) << 7 | (c2 & 0x7f)`: one lookup per byte. */
const HEX_PAIR = new Uint8Array(128 * 128);
for (let a = 0; a < 128; a++) for (let b = 0; b < 128; b++) HEX_PAIR[(a << 7) | b] = (HEX[a]! << 4) | HEX[b]!;

/** Scratch for `Span.writeTimes`. */
const times = new Float64Array(4);

// Encoder state. Encoding is synchronous and never re-entered, so one module-level buffer is safe.
let buf: Buffer = Buffer.allocUnsafe(INITIAL_CAPACITY);
let pos = 0;

/**
 * A DataView of `buf`, for the 32-bit stores of fixed-width fields and copied bytes: one `setInt32`
 * costs about what one byte store costs in a JS loop (V8 checks the typed array's map, length and
 * base on every element access inside such a loop; callgrind on Node 20 counted ~30 instructions per
 * byte copied). `buf` changes (a record target, growth), so it is read through {@link view}.
 */
let bufView = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
let bufViewOf: Buffer = buf;

/** The DataView of the current `buf`. Call it after `ensure()`, which may replace `buf`. */
function view(): DataView {
  if (bufViewOf !== buf) {
    bufView = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    bufViewOf = buf;
  }
  return bufView;
}

function grow(need: number): void {
  let cap = buf.length * 2;
  while (cap < pos + need) cap *= 2;
  const next = Buffer.allocUnsafe(cap);
  buf.copy(next, 0, 0, pos);
  buf = next;
}

function ensure(need: number): void {
  if (pos + need > buf.length) grow(need);
}

function varintSize(v: number): number {
  return v < 0x80 ? 1 : v < 0x4000 ? 2 : v < 0x200000 ? 3 : v < 0x10000000 ? 4 : 5;
}

/** An unsigned varint below 2^32 (lengths, counts, enums, tags). Caller ensured space. */
function putVarint32(v: number): void {
  while (v > 0x7f) {
    buf[pos++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  buf[pos++] = v;
}

function putTag(t: number): void {
  if (t < 0x80) buf[pos++] = t;
  else putVarint32(t);
}

/** A 64-bit varint from two's-complement halves (protobuf int64; negatives take 10 bytes). */
function putVarint64(lo: number, hi: number): void {
  lo >>>= 0;
  hi >>>= 0;
  while (hi !== 0 || lo > 0x7f) {
    buf[pos++] = (lo & 0x7f) | 0x80;
    lo = ((lo >>> 7) | (hi << 25)) >>> 0;
    hi >>>= 7;
  }
  buf[pos++] = lo;
}

/** A little-endian fixed32 (span and link flags; `putTime` writes its two halves itself). Caller ensured space. */
function putFixed32(v: number): void {
  view().setInt32(pos, v, true);
  pos += 4;
}

/**
 * HrTime `[seconds, nanos]` as fixed64 nanoseconds since the epoch. Epoch nanoseconds exceed 2^53,
 * so the full value is never formed as a float: `seconds` is split at 2^16 so every product stays
 * an exact integer, and the sum is carried into two 32-bit halves.
 */
function putHrTime(t: HrTime): void {
  putTime(t[0], t[1]);
}

function putTime(s: number, n: number): void {
  // ns = s * 1e9 + n = bHi * 2^32 + low, with every intermediate an exact integer below 2^53.
  // Math.floor divisions, not `%`: a float modulo is a C call (fmod) in V8, three per timestamp.
  const sHi = Math.floor(s / 65536);
  const a = (s - sHi * 65536) * 1e9 + n; // < 2^46
  const b = sHi * 1e9; // exact while s < 2^53 / 1e9 * 65536
  const bHi = Math.floor(b / 65536);
  const low = (b - bHi * 65536) * 65536 + a; // < 2^47
  const lowHi = Math.floor(low / 4294967296);
  const v = view();
  v.setInt32(pos, (low - lowHi * 4294967296) | 0, true);
  v.setInt32(pos + 4, (bHi + lowHi) | 0, true);
  pos += 8;
}

/** Reserve `reserve` bytes for a length prefix; returns where the prefix starts. */
function beginLen(reserve: number): number {
  ensure(reserve);
  const at = pos;
  pos += reserve;
  return at;
}

/**
 * Write the length of the bytes after the reserved prefix at `at`, moving them if the guess was
 * wrong. `holdsCachedAttributes`: the message contains span attributes whose offsets the attribute
 * cache remembers (a span or a group of spans), so moving its bytes invalidates the cache. Inside
 * a KeyValue, event, link or status nothing cached can move.
 */
function endLen(at: number, reserve: number, holdsCachedAttributes = false): void {
  const start = at + reserve;
  const len = pos - start;
  // The common cases, written directly: a KeyValue or AnyValue (one byte guessed and needed), a
  // span (two).
  if (reserve === 1) {
    if (len < 0x80) {
      buf[at] = len;
      return;
    }
  } else if (reserve === 2 && len >= 0x80 && len < 0x4000) {
    buf[at] = (len & 0x7f) | 0x80;
    buf[at + 1] = len >>> 7;
    return;
  }
  const need = varintSize(len);
  if (need !== reserve) {
    if (holdsCachedAttributes) epoch++; // cached attribute offsets inside it are no longer valid
    if (need > reserve) ensure(need - reserve);
    buf.copyWithin(at + need, start, pos);
    pos += need - reserve;
  }
  const save = pos;
  pos = at;
  putVarint32(len);
  pos = save;
}

/** UTF-8 from index `i` of `s` at `p`, for the non-ASCII remainder; returns the new position. */
function utf8Slow(s: string, i: number, p: number): number {
  const n = s.length;
  const b = buf;
  for (; i < n; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) {
      b[p++] = c;
    } else if (c < 0x800) {
      b[p++] = 0xc0 | (c >> 6);
      b[p++] = 0x80 | (c & 0x3f);
    } else if (c >= 0xd800 && c <= 0xdfff) {
      const next = i + 1 < n ? s.charCodeAt(i + 1) : 0;
      if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
        i++;
        b[p++] = 0xf0 | (c >> 18);
        b[p++] = 0x80 | ((c >> 12) & 0x3f);
        b[p++] = 0x80 | ((c >> 6) & 0x3f);
        b[p++] = 0x80 | (c & 0x3f);
      } else {
        // A lone surrogate is not valid UTF-8; write U+FFFD as Buffer#write and TextEncoder do.
        b[p++] = 0xef;
        b[p++] = 0xbf;
        b[p++] = 0xbd;
      }
    } else {
      b[p++] = 0xe0 | (c >> 12);
      b[p++] = 0x80 | ((c >> 6) & 0x3f);
      b[p++] = 0x80 | (c & 0x3f);
    }
  }
  return p;
}

/** Strings up to this many UTF-16 units are encoded by the JS loop (at most 3 bytes each, < 128). */
const SHORT_STRING = 42;

/** A string field: tag, length, UTF-8 bytes. */
function putString(t: number, s: string): void {
  const n = s.length;
  ensure(n * 3 + 12);
  putTag(t);
  if (n <= SHORT_STRING) {
    const at = pos;
    let p = at + 1;
    const b = buf;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) {
        p = utf8Slow(s, i, p);
        break;
      }
      b[p++] = c;
    }
    b[at] = p - at - 1;
    pos = p;
    return;
  }
  const reserve = varintSize(n * 3);
  const at = pos;
  pos += reserve;
  pos += buf.write(s, pos, 'utf8');
  endLen(at, reserve);
}

/** A bytes field from a hex id (trace/span id), written as raw bytes. */
function putHexId(t: number, hex: string): void {
  const n = hex.length >>> 1;
  ensure(n + 8);
  putTag(t);
  buf[pos++] = n;
  const b = buf;
  for (let i = 0; i < n; i++) {
    b[pos + i] = HEX_PAIR[((hex.charCodeAt(2 * i) & 0x7f) << 7) | (hex.charCodeAt(2 * i + 1) & 0x7f)]!;
  }
  pos += n;
}

/**
 * A bytes field copied from the id generator's random block (see `Span.traceIdBlock`), four bytes at
 * a time: `n` is 16 (trace id) or 8 (span id). `t` is below 0x80.
 */
function putIdBytes(t: number, src: DataView, off: number, n: number): void {
  ensure(n + 8);
  const v = view();
  let p = pos;
  buf[p++] = t;
  buf[p++] = n;
  for (let i = 0; i < n; i += 4) v.setInt32(p + i, src.getInt32(off + i, true), true);
  pos = p + n;
}

function putUint32Field(t: number, v: number): void {
  ensure(16);
  putTag(t);
  putVarint32(v >>> 0);
}

/**
 * An AnyValue body (common.proto): string_value 1, bool_value 2, int_value 3, double_value 4,
 * array_value 5, kvlist_value 6, bytes_value 7. Integral numbers within int64 are ints, others
 * doubles, as the official encoder does. null/undefined encode as an empty AnyValue (OTLP: "a
 * value that is not set" = null), which keeps array positions.
 */
function putAnyValue(v: unknown): void {
  switch (typeof v) {
    case 'string':
      putString(tag(1, LEN), v);
      return;
    case 'number':
      ensure(12);
      if (Number.isInteger(v) && v >= MIN_INT64 && v < MAX_INT64) {
        buf[pos++] = tag(3, VARINT);
        if (v >= 0 && v < 0x80000000) putVarint32(v);
        else putVarint64((v % 4294967296) | 0, Math.floor(v / 4294967296));
      } else {
        buf[pos++] = tag(4, I64);
        view().setFloat64(pos, v, true);
        pos += 8;
      }
      return;
    case 'boolean':
      ensure(2);
      buf[pos++] = tag(2, VARINT);
      buf[pos++] = v ? 1 : 0;
      return;
    case 'bigint':
      // Not an OpenTelemetry AttributeValue, but an int64 is what the user meant.
      if (v >= -(2n ** 63n) && v < 2n ** 63n) {
        ensure(12);
        buf[pos++] = tag(3, VARINT);
        putVarint64(Number(BigInt.asUintN(32, v)), Number(BigInt.asUintN(32, v >> 32n)));
      }
      return;
    case 'object': {
      if (v === null) return;
      if (Array.isArray(v)) {
        ensure(4);
        buf[pos++] = tag(5, LEN);
        const at = beginLen(2);
        for (let i = 0; i < v.length; i++) {
          ensure(4);
          buf[pos++] = tag(1, LEN); // ArrayValue.values
          const vat = beginLen(1);
          putAnyValue(v[i]);
          endLen(vat, 1);
        }
        endLen(at, 2);
        return;
      }
      if (v instanceof Uint8Array) {
        ensure(v.length + 8);
        buf[pos++] = tag(7, LEN);
        putVarint32(v.length);
        buf.set(v, pos);
        pos += v.length;
        return;
      }
      ensure(4);
      buf[pos++] = tag(6, LEN);
      const at = beginLen(2);
      putKeyValues(tag(1, LEN), v as Record<string, unknown>);
      endLen(at, 2);
      return;
    }
    default:
      return;
  }
}

/** Repeated KeyValue under field tag `t`; undefined values are skipped (never set as attributes). */
function putKeyValues(t: number, attrs: Record<string, unknown>): void {
  // for-in without a hasOwn check: attributes are plain objects, and an enumerable property on
  // Object.prototype would be a bug in the application that every other consumer sees too.
  for (const key in attrs) {
    const value = attrs[key];
    if (value === undefined) continue;
    putKeyValue(t, key, value);
  }
}

/**
 * Span attributes repeat across spans: an HTTP server's spans share 9 of their 10 attribute values
 * (method, scheme, route, status code, server address and port, ...). For each key the encoder
 * remembers the last value and where its encoded KeyValue sits in the buffer of the current
 * encode; when the same value comes again, the bytes are copied from there instead of encoded
 * again, and adjacent copies are merged into one `copyWithin` (one native memmove for a run of
 * attributes). Cheaper than encoding two strings per attribute, and no allocation.
 *
 * Offsets are only valid within one encode and while nothing already written has moved: the
 * epoch changes at the start of each encode and whenever the length back-patch of a span or a
 * group of spans moves bytes (`endLen(..., true)`), which invalidates every entry at once. Only
 * primitive values are cached. Bounded to KV_CACHE_MAX keys.
 */
interface KvEntry {
  key: string;
  /** The encoded `KeyValue.key` field (tag, length, UTF-8): copied when only the value changed. */
  keyField: Field;
  value: unknown;
  off: number;
  len: number;
  epoch: number;
}
const KV_CACHE_MAX = 512;
const kvCache = new Map<string, KvEntry>();
/**
 * The entry last used at each attribute position: spans from one call site have the same keys in
 * the same order, so `byPosition[i].key === key` (a pointer comparison for the literal keys of
 * one call site) finds the entry without a Map lookup; the Map is the fallback.
 */
const byPosition: (KvEntry | undefined)[] = [];
const BY_POSITION_MAX = 64;
let epoch = 0;

function putSpanAttributes(attrs: Record<string, unknown>): void {
  const t = tag(9, LEN);
  let runSrc = -1;
  let runLen = 0;
  let i = -1;
  for (const key in attrs) {
    i++;
    const value = attrs[key];
    if (value === undefined) continue;
    let e = i < BY_POSITION_MAX ? byPosition[i] : undefined;
    if (e === undefined || e.key !== key) {
      e = kvCache.get(key);
      if (e !== undefined && i < BY_POSITION_MAX) byPosition[i] = e;
    }
    if (e !== undefined && e.epoch === epoch && e.value === value) {
      let dest: number;
      if (runLen > 0 && runSrc + runLen === e.off) {
        dest = pos + runLen; // extends the pending run
        runLen += e.len;
      } else {
        if (runLen > 0) flushRun(runSrc, runLen);
        dest = pos;
        runSrc = e.off;
        runLen = e.len;
      }
      // Point at this span's copy, so the next span finds this span's attributes contiguous.
      e.off = dest;
      continue;
    }
    if (runLen > 0) {
      flushRun(runSrc, runLen);
      runSrc = -1;
      runLen = 0;
    }
    putRememberedKeyValue(t, key, value, e, i);
  }
  if (runLen > 0) flushRun(runSrc, runLen);
}

/**
 * Writes one attribute KeyValue and remembers where (`e`, the cache entry of `key` if it has one),
 * so that a later span with the same primitive value copies the bytes. `i` is the attribute's
 * position (see {@link byPosition}); BY_POSITION_MAX or more: none.
 */
function putRememberedKeyValue(
  t: number,
  key: string,
  value: unknown,
  e: KvEntry | undefined,
  i: number,
): void {
  const start = pos;
  const before = epoch;
  putKeyValue(t, key, value, e?.keyField);
  const type = typeof value;
  if (before !== epoch || (type !== 'string' && type !== 'number' && type !== 'boolean')) return;
  if (e === undefined) {
    if (kvCache.size >= KV_CACHE_MAX) {
      kvCache.clear();
      byPosition.length = 0;
    }
    e = { key, keyField: keyFieldOf(key), value, off: start, len: pos - start, epoch };
    kvCache.set(key, e);
    if (i < BY_POSITION_MAX) byPosition[i] = e;
  } else {
    e.value = value;
    e.off = start;
    e.len = pos - start;
    e.epoch = epoch;
  }
}

/**
 * HTTP server spans, the common case of a server's export: the attributes `http/server-tracing.ts`
 * sets, read by name instead of walked key by key. A server's spans repeat the values of all but
 * the path, query and peer port (method, scheme, server address and port, client and peer
 * address, protocol version, user agent, `http.route`, status code). Those are compared with the
 * previous HTTP span's as one group, and its bytes copied when all are equal, as
 * {@link putSpanAttributes} does key by key but without its per-key lookups. Path and peer port
 * are written in one pass each. (callgrind, Node 24 Fastify: 2,800 fewer instructions per request
 * than the key-by-key walk, which was the largest function of a traced request.)
 *
 * Taken only when the object holds these keys with strings and numbers where the lifecycle puts
 * them (primitives: equal values are then equal bytes); otherwise the span takes the general path.
 * The keys are counted: other keys (added by a user, a processor or a configuration: a captured
 * header, `nestjs.controller`) are written after these, one by one, as the general path would
 * ({@link putOtherAttributes}). The output holds what that path writes, with the keys in the order
 * below: the repeating group, then path, query and peer port, then the others. The lifecycle sets
 * `http.route` and the status code last, so the general path writes them last; OTLP gives the
 * order of attributes no meaning.
 */
const K_METHOD = 'http.request.method';
const K_SCHEME = 'url.scheme';
const K_SERVER_ADDRESS = 'server.address';
const K_SERVER_PORT = 'server.port';
const K_CLIENT_ADDRESS = 'client.address';
const K_PEER_ADDRESS = 'network.peer.address';
const K_PROTOCOL_VERSION = 'network.protocol.version';
const K_USER_AGENT = 'user_agent.original';
const K_PATH = 'url.path';
const K_QUERY = 'url.query';
const K_PEER_PORT = 'network.peer.port';
const K_ROUTE = 'http.route';
const K_STATUS = 'http.response.status_code';
const F_METHOD = keyFieldOf(K_METHOD);
const F_SCHEME = keyFieldOf(K_SCHEME);
const F_SERVER_ADDRESS = keyFieldOf(K_SERVER_ADDRESS);
const F_SERVER_PORT = keyFieldOf(K_SERVER_PORT);
const F_CLIENT_ADDRESS = keyFieldOf(K_CLIENT_ADDRESS);
const F_PEER_ADDRESS = keyFieldOf(K_PEER_ADDRESS);
const F_PROTOCOL_VERSION = keyFieldOf(K_PROTOCOL_VERSION);
const F_USER_AGENT = keyFieldOf(K_USER_AGENT);
const F_PATH = keyFieldOf(K_PATH);
const F_QUERY = keyFieldOf(K_QUERY);
const F_PEER_PORT = keyFieldOf(K_PEER_PORT);
const F_ROUTE = keyFieldOf(K_ROUTE);
const F_STATUS = keyFieldOf(K_STATUS);

/**
 * The previous HTTP span's repeating values, and where their encoded KeyValues are: valid while
 * `hEpoch` is the current epoch.
 */
let hMethod: unknown;
let hScheme: unknown;
let hServerAddress: unknown;
let hServerPort: unknown;
let hClientAddress: unknown;
let hPeerAddress: unknown;
let hVersion: unknown;
let hUserAgent: unknown;
let hRoute: unknown;
let hStatus: unknown;
let hOff = 0;
let hLen = 0;
let hEpoch = -1;

/** The keys {@link putHttpServerAttributes} writes by name. */
const HTTP_SERVER_KEYS: ReadonlySet<string> = new Set([
  K_METHOD,
  K_SCHEME,
  K_SERVER_ADDRESS,
  K_SERVER_PORT,
  K_CLIENT_ADDRESS,
  K_PEER_ADDRESS,
  K_PROTOCOL_VERSION,
  K_USER_AGENT,
  K_PATH,
  K_QUERY,
  K_PEER_PORT,
  K_ROUTE,
  K_STATUS,
]);
/**
 * The key last seen at each position of an HTTP server span's attributes, and whether it is one of
 * {@link HTTP_SERVER_KEYS}: spans from one server have the same keys in the same order, so a
 * pointer comparison stands for the Set lookup.
 */
const otherKeyAt: (string | undefined)[] = [];
const otherKnownAt: boolean[] = [];

/** Returns false, having written nothing, when `a` is not such an HTTP server span's attributes. */
function putHttpServerAttributes(a: Record<string, unknown>): boolean {
  const method = a[K_METHOD];
  const scheme = a[K_SCHEME];
  const serverAddress = a[K_SERVER_ADDRESS];
  const serverPort = a[K_SERVER_PORT];
  const clientAddress = a[K_CLIENT_ADDRESS];
  const peerAddress = a[K_PEER_ADDRESS];
  const version = a[K_PROTOCOL_VERSION];
  const userAgent = a[K_USER_AGENT];
  const path = a[K_PATH];
  const query = a[K_QUERY];
  const peerPort = a[K_PEER_PORT];
  const route = a[K_ROUTE];
  const status = a[K_STATUS];
  if (
    typeof method !== 'string' ||
    typeof scheme !== 'string' ||
    typeof serverAddress !== 'string' ||
    typeof serverPort !== 'number' ||
    typeof clientAddress !== 'string' ||
    typeof peerAddress !== 'string' ||
    typeof version !== 'string' ||
    (userAgent !== undefined && typeof userAgent !== 'string') ||
    typeof path !== 'string' ||
    (query !== undefined && typeof query !== 'string') ||
    typeof peerPort !== 'number' ||
    (route !== undefined && typeof route !== 'string') ||
    (status !== undefined && typeof status !== 'number')
  ) {
    return false;
  }
  let keys = 0;
  for (const _ in a) keys++;
  const named =
    9 +
    (userAgent === undefined ? 0 : 1) +
    (query === undefined ? 0 : 1) +
    (route === undefined ? 0 : 1) +
    (status === undefined ? 0 : 1);
  const t = tag(9, LEN);
  // The values that repeat, as one group: one compare and one copy for the usual span.
  if (
    hEpoch === epoch &&
    method === hMethod &&
    scheme === hScheme &&
    serverAddress === hServerAddress &&
    serverPort === hServerPort &&
    clientAddress === hClientAddress &&
    peerAddress === hPeerAddress &&
    version === hVersion &&
    userAgent === hUserAgent &&
    route === hRoute &&
    status === hStatus
  ) {
    const src = hOff;
    hOff = pos;
    flushRun(src, hLen);
  } else {
    const start = pos;
    putKeyValue(t, K_METHOD, method, F_METHOD);
    putKeyValue(t, K_SCHEME, scheme, F_SCHEME);
    putKeyValue(t, K_SERVER_ADDRESS, serverAddress, F_SERVER_ADDRESS);
    putKeyValue(t, K_SERVER_PORT, serverPort, F_SERVER_PORT);
    putKeyValue(t, K_CLIENT_ADDRESS, clientAddress, F_CLIENT_ADDRESS);
    putKeyValue(t, K_PEER_ADDRESS, peerAddress, F_PEER_ADDRESS);
    putKeyValue(t, K_PROTOCOL_VERSION, version, F_PROTOCOL_VERSION);
    if (userAgent !== undefined) putKeyValue(t, K_USER_AGENT, userAgent, F_USER_AGENT);
    if (route !== undefined) putKeyValue(t, K_ROUTE, route, F_ROUTE);
    if (status !== undefined) putKeyValue(t, K_STATUS, status, F_STATUS);
    hMethod = method;
    hScheme = scheme;
    hServerAddress = serverAddress;
    hServerPort = serverPort;
    hClientAddress = clientAddress;
    hPeerAddress = peerAddress;
    hVersion = version;
    hUserAgent = userAgent;
    hRoute = route;
    hStatus = status;
    hOff = start;
    hLen = pos - start;
    hEpoch = epoch;
  }
  putShortStringKeyValue(t, K_PATH, path, F_PATH);
  if (query !== undefined) putKeyValue(t, K_QUERY, query, F_QUERY);
  putSmallIntKeyValue(t, K_PEER_PORT, peerPort, F_PEER_PORT);
  if (keys !== named) putOtherAttributes(t, a);
  return true;
}

/**
 * The attributes of an HTTP server span other than {@link HTTP_SERVER_KEYS} (and the keys without
 * a value), as {@link putSpanAttributes} writes them: a value the previous span had under the same
 * key is copied. (callgrind, Node 24, Nest + Fastify with `nestjs.controller` and
 * `nestjs.handler`: the whole span through the general path cost 2.7k instructions per request.)
 */
function putOtherAttributes(t: number, a: Record<string, unknown>): void {
  let i = -1;
  for (const key in a) {
    i++;
    let known: boolean;
    if (i < BY_POSITION_MAX && otherKeyAt[i] === key) known = otherKnownAt[i]!;
    else {
      known = HTTP_SERVER_KEYS.has(key);
      if (i < BY_POSITION_MAX) {
        otherKeyAt[i] = key;
        otherKnownAt[i] = known;
      }
    }
    if (known) continue;
    const value = a[key];
    if (value === undefined) continue;
    const e = kvCache.get(key);
    if (e !== undefined && e.epoch === epoch && e.value === value) {
      const src = e.off;
      e.off = pos; // this span's copy, for the next span to copy
      flushRun(src, e.len);
      continue;
    }
    putRememberedKeyValue(t, key, value, e, BY_POSITION_MAX);
  }
}

/**
 * {@link putKeyValue} for a string value, written in one pass when the KeyValue is shorter than
 * 128 bytes (one-byte lengths, the usual `url.path`); otherwise rewound and written by putKeyValue.
 * `t` and the key field's tag are below 0x80.
 */
function putShortStringKeyValue(t: number, key: string, value: string, keyField: Field): void {
  const n = value.length;
  if (n <= SHORT_STRING) {
    const start = pos;
    ensure(keyField.length + n * 3 + 8);
    buf[pos++] = t;
    pos++; // KeyValue length
    putField(keyField);
    const b = buf;
    const at = pos;
    b[at] = tag(2, LEN); // KeyValue.value
    b[at + 2] = tag(1, LEN); // AnyValue.string_value
    let p = at + 4;
    for (let i = 0; i < n; i++) {
      const c = value.charCodeAt(i);
      if (c >= 0x80) {
        p = utf8Slow(value, i, p);
        break;
      }
      b[p++] = c;
    }
    const kvLen = p - start - 2;
    if (kvLen < 0x80) {
      b[start + 1] = kvLen;
      b[at + 1] = p - at - 2;
      b[at + 3] = p - at - 4;
      pos = p;
      return;
    }
    pos = start;
  }
  putKeyValue(t, key, value, keyField);
}

/** {@link putKeyValue} for a number, in one pass when it is an integer in [0, 2^31) (a port). */
function putSmallIntKeyValue(t: number, key: string, value: number, keyField: Field): void {
  if ((value | 0) !== value || value < 0 || keyField.length > 100) {
    putKeyValue(t, key, value, keyField);
    return;
  }
  const start = pos;
  ensure(keyField.length + 12);
  buf[pos++] = t;
  pos++; // KeyValue length
  putField(keyField);
  const b = buf;
  const at = pos;
  b[at] = tag(2, LEN); // KeyValue.value
  b[at + 2] = tag(3, VARINT); // AnyValue.int_value
  pos = at + 3;
  putVarint32(value);
  b[at + 1] = pos - at - 2;
  b[start + 1] = pos - start - 2;
}

/** Copy `len` already-encoded bytes from `src` (earlier in this encode) to the end. */
function flushRun(src: number, len: number): void {
  ensure(len);
  // A JS byte loop beats copyWithin's native call only for a few bytes (~1-2.5 ns per byte
  // against ~35 ns per call, measured on Node 24).
  if (len <= 12) {
    const b = buf;
    const p = pos;
    for (let i = 0; i < len; i++) b[p + i] = b[src + i]!;
  } else {
    buf.copyWithin(pos, src, src + len);
  }
  pos += len;
}

/**
 * An encoded field kept to be copied (a span name, an attribute key): its `length` bytes, in a
 * DataView padded to a multiple of 4 bytes so that {@link putField} copies it a word at a time.
 */
interface Field {
  readonly length: number;
  readonly words: DataView;
}

/**
 * Copy an encoded field to the end, four bytes at a time. The last word may write up to 3 bytes
 * past the field; they are inside the buffer (ensured) and past `pos`, where nothing is kept.
 */
function putField(f: Field): void {
  const n = f.length;
  ensure(n + 3);
  const v = view();
  const src = f.words;
  const p = pos;
  for (let i = 0; i < n; i += 4) v.setInt32(p + i, src.getInt32(i, true), true);
  pos = p + n;
}

/** The encoded `KeyValue.key` field of `key`, kept to be copied (attribute cache, named keys). */
function keyFieldOf(key: string): Field {
  return stringField(tag(1, LEN), key);
}

/** A string field (tag below 0x80, length, UTF-8) as a {@link Field}. */
function stringField(t: number, s: string): Field {
  const utf8 = Buffer.from(s, 'utf8'); // lone surrogates become U+FFFD, as in putString
  const n = utf8.length;
  const length = 1 + varintSize(n) + n;
  const out = new Uint8Array((length + 3) & ~3);
  let p = 0;
  out[p++] = t;
  let v = n;
  while (v > 0x7f) {
    out[p++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  out[p++] = v;
  out.set(utf8, p);
  return { length, words: new DataView(out.buffer) };
}

/**
 * Span names: encoded once, then copied. A server's span names are its routes (`GET /users/:id`),
 * the same few strings span after span, and encoding a string costs a character loop where copying
 * its bytes is a byte loop. Bounded: once full, a name not in the table is encoded as before, and
 * after NAME_MISSES_BEFORE_CLEAR such misses the table starts over (names change over a process's life).
 */
const nameFields = new Map<string, Field>();
const NAME_FIELDS_MAX = 256;
const NAME_MISSES_BEFORE_CLEAR = 4096;
let nameMisses = 0;

function putName(name: string): void {
  let f = nameFields.get(name);
  if (f === undefined) {
    if (nameFields.size >= NAME_FIELDS_MAX) {
      if (++nameMisses < NAME_MISSES_BEFORE_CLEAR) {
        putString(tag(5, LEN), name);
        return;
      }
      nameFields.clear();
      nameMisses = 0;
    }
    f = stringField(tag(5, LEN), name);
    nameFields.set(name, f);
  }
  putField(f);
}

/**
 * A KeyValue under field tag `t`. `keyField`: the key's field already encoded (a key seen before,
 * see {@link stringField}), copied instead of encoding `key` again.
 */
function putKeyValue(t: number, key: string, value: unknown, keyField?: Field): void {
  ensure(4);
  putTag(t);
  const at = beginLen(1);
  if (keyField === undefined) putString(tag(1, LEN), key);
  else putField(keyField);
  ensure(4);
  buf[pos++] = tag(2, LEN);
  const vat = beginLen(1);
  putAnyValue(value);
  endLen(vat, 1);
  endLen(at, 1);
}

/** Span.flags / Link.flags: W3C flags in bits 0-7 and whether the parent (or link) is remote. */
function spanFlags(traceFlags: number, isRemote: boolean | undefined): number {
  return (
    (traceFlags & 0xff) |
    SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE |
    (isRemote === true ? SPAN_FLAGS_CONTEXT_IS_REMOTE : 0)
  );
}

function putEvent(e: TimedEvent): void {
  ensure(16);
  buf[pos++] = tag(11, LEN);
  const at = beginLen(1);
  ensure(10);
  buf[pos++] = tag(1, I64);
  putHrTime(e.time);
  putString(tag(2, LEN), e.name);
  if (e.attributes) putKeyValues(tag(3, LEN), e.attributes);
  if (e.droppedAttributesCount) putUint32Field(tag(4, VARINT), e.droppedAttributesCount);
  endLen(at, 1);
}

function putLink(l: Link): void {
  const c = l.context;
  ensure(16);
  buf[pos++] = tag(13, LEN);
  const at = beginLen(1);
  putHexId(tag(1, LEN), c.traceId);
  putHexId(tag(2, LEN), c.spanId);
  const ts = c.traceState?.serialize();
  if (ts) putString(tag(3, LEN), ts);
  if (l.attributes) putKeyValues(tag(4, LEN), l.attributes);
  if (l.droppedAttributesCount) putUint32Field(tag(5, VARINT), l.droppedAttributesCount);
  ensure(6);
  buf[pos++] = tag(6, I32);
  putFixed32(spanFlags(c.traceFlags, c.isRemote));
  endLen(at, 1);
}

function putSpan(span: ReadableSpan): void {
  const ctx: SpanContext = span.spanContext();
  ensure(8);
  buf[pos++] = tag(2, LEN); // ScopeSpans.spans
  const at = beginLen(2);
  const own = span instanceof Span ? span : undefined;
  const traceBlock = own?.traceIdBlock;
  if (traceBlock !== undefined) putIdBytes(tag(1, LEN), traceBlock, own!.traceIdOffset, 16);
  else putHexId(tag(1, LEN), ctx.traceId);
  const spanBlock = own?.spanIdBlock;
  if (spanBlock !== undefined) putIdBytes(tag(2, LEN), spanBlock, own!.spanIdOffset, 8);
  else putHexId(tag(2, LEN), ctx.spanId);
  const ts = ctx.traceState?.serialize();
  if (ts) putString(tag(3, LEN), ts);
  const parent = span.parentSpanContext;
  // SDK 1.x spans carry only `parentSpanId`. Not read from tracewire's spans: on them it is a
  // getter, which V8 calls through the generic LoadIC for a root span (no parent to short-circuit).
  const parentId =
    parent !== undefined || own !== undefined
      ? parent?.spanId
      : (span as { parentSpanId?: string }).parentSpanId;
  if (parentId) putHexId(tag(4, LEN), parentId);
  putName(span.name);
  ensure(24);
  // SpanKind: the API has no UNSPECIFIED, so OTLP = API + 1 (trace.proto, SpanKind).
  buf[pos++] = tag(6, VARINT);
  buf[pos++] = (span.kind ?? 0) + 1;
  if (own !== undefined) {
    // tracewire's span: times straight from its clock readings (no HrTime arrays).
    own.writeTimes(times);
    buf[pos++] = tag(7, I64);
    putTime(times[0]!, times[1]!);
    buf[pos++] = tag(8, I64);
    putTime(times[2]!, times[3]!);
  } else {
    buf[pos++] = tag(7, I64);
    putHrTime(span.startTime);
    buf[pos++] = tag(8, I64);
    putHrTime(span.endTime);
  }
  const attributes = span.attributes;
  // SpanKind.SERVER (API value 1): spans of tracewire's HTTP lifecycle take the named path.
  if (span.kind !== 1 || !putHttpServerAttributes(attributes)) putSpanAttributes(attributes);
  if (span.droppedAttributesCount) putUint32Field(tag(10, VARINT), span.droppedAttributesCount);
  const events = span.events;
  for (let i = 0; i < events.length; i++) putEvent(events[i]!);
  if (span.droppedEventsCount) putUint32Field(tag(12, VARINT), span.droppedEventsCount);
  const links = span.links;
  for (let i = 0; i < links.length; i++) putLink(links[i]!);
  if (span.droppedLinksCount) putUint32Field(tag(14, VARINT), span.droppedLinksCount);
  const status = span.status;
  if (status && (status.code || status.message)) {
    ensure(4);
    buf[pos++] = tag(15, LEN);
    const sat = beginLen(1);
    if (status.message) putString(tag(2, LEN), status.message);
    if (status.code) putUint32Field(tag(3, VARINT), status.code);
    endLen(sat, 1);
  }
  ensure(8);
  putTag(tag(16, I32));
  putFixed32(spanFlags(ctx.traceFlags, parent?.isRemote));
  endLen(at, 2, true);
}

/** Spans grouped by resource, then by instrumentation scope (name, version, schema URL). */
interface ScopeGroup {
  scope: InstrumentationScope;
  key: string;
  spans: ReadableSpan[];
}
interface ResourceGroup {
  resource: Resource;
  scopes: ScopeGroup[];
}

function scopeKey(s: InstrumentationScope): string {
  return `${s.name}\u0000${s.version ?? ''}\u0000${s.schemaUrl ?? ''}`;
}

function group(spans: readonly ReadableSpan[]): ResourceGroup[] {
  const out: ResourceGroup[] = [];
  let lastRes: Resource | undefined;
  let lastScope: InstrumentationScope | undefined;
  let lastGroup: ScopeGroup | undefined;
  let lastRg: ResourceGroup | undefined;
  for (let i = 0; i < spans.length; i++) {
    const span = spans[i]!;
    const res = span.resource;
    // SDK 1.x spans expose `instrumentationLibrary` instead.
    const scope =
      span.instrumentationScope ??
      (span as { instrumentationLibrary?: InstrumentationScope }).instrumentationLibrary ??
      EMPTY_SCOPE;
    if (res === lastRes && scope === lastScope && lastGroup) {
      lastGroup.spans.push(span);
      continue;
    }
    let rg = res === lastRes ? lastRg : undefined;
    if (!rg) {
      for (const g of out) if (g.resource === res) rg = g;
      if (!rg) {
        rg = { resource: res, scopes: [] };
        out.push(rg);
      }
    }
    const key = scopeKey(scope);
    let sg: ScopeGroup | undefined;
    for (const g of rg.scopes) if (g.key === key) sg = g;
    if (!sg) {
      sg = { scope, key, spans: [] };
      rg.scopes.push(sg);
    }
    sg.spans.push(span);
    lastRes = res;
    lastScope = scope;
    lastGroup = sg;
    lastRg = rg;
  }
  return out;
}

const EMPTY_SCOPE: InstrumentationScope = { name: '' };

/** ResourceSpans.resource (resource.proto: attributes 1, dropped_attributes_count 2). */
function putResource(res: Resource | undefined): void {
  ensure(4);
  buf[pos++] = tag(1, LEN);
  const rat = beginLen(2);
  const attrs: Attributes | undefined = res?.attributes;
  if (attrs) putKeyValues(tag(1, LEN), attrs);
  endLen(rat, 2);
}

/** ScopeSpans.scope (common.proto InstrumentationScope: name 1, version 2, attributes 3). */
function putScope(scope: InstrumentationScope): void {
  ensure(4);
  buf[pos++] = tag(1, LEN);
  const scat = beginLen(1);
  if (scope.name) putString(tag(1, LEN), scope.name);
  if (scope.version) putString(tag(2, LEN), scope.version);
  const scopeAttrs = (scope as { attributes?: Attributes }).attributes;
  if (scopeAttrs) putKeyValues(tag(3, LEN), scopeAttrs);
  endLen(scat, 1);
}

function putResourceSpans(rg: ResourceGroup): void {
  ensure(8);
  buf[pos++] = tag(1, LEN); // ExportTraceServiceRequest.resource_spans
  const at = beginLen(4);
  const res = rg.resource;
  putResource(res);
  for (const sg of rg.scopes) {
    ensure(8);
    buf[pos++] = tag(2, LEN); // ResourceSpans.scope_spans
    const sat = beginLen(4);
    const scope = sg.scope;
    putScope(scope);
    const spans = sg.spans;
    for (let i = 0; i < spans.length; i++) putSpan(spans[i]!);
    if (scope.schemaUrl) putString(tag(3, LEN), scope.schemaUrl);
    endLen(sat, 4, true);
  }
  if (res?.schemaUrl) putString(tag(3, LEN), res.schemaUrl);
  endLen(at, 4, true);
}

/**
 * Encode spans as an OTLP `ExportTraceServiceRequest` (protobuf). Returns a view into the
 * encoder's reused buffer: valid only until the next call (copy it to keep it).
 */
export function encodeTraceRequestView(spans: readonly ReadableSpan[]): Uint8Array {
  pos = 0;
  epoch++;
  if (buf.length > RETAIN_CAPACITY) buf = Buffer.allocUnsafe(INITIAL_CAPACITY);
  cacheOwner = buf;
  const groups = group(spans);
  for (const rg of groups) putResourceSpans(rg);
  return buf.subarray(0, pos);
}

/**
 * The buffer the attribute cache's offsets point into: an encode into any other buffer starts a
 * new epoch first (offsets of one buffer mean nothing in another).
 */
let cacheOwner: Buffer | undefined;
/** The target buffer after the last {@link encodeSpanRecord} (a new, larger one if it grew). */
let recordTarget: Buffer = buf;

/**
 * Encode one span as a complete `ScopeSpans.spans` field (tag, length, `Span` message) at offset
 * `at` of `target`; returns the offset just past it. The bytes are exactly what
 * {@link encodeTraceRequestView} writes for that span, so a request can later be assembled by
 * copying them (see {@link encodeTraceRequestFromRecords}). If the span does not fit, the target is
 * replaced by a larger copy: read it back with {@link lastRecordTarget}. The attribute cache works
 * across calls into the same target (consecutive spans copy their repeated attributes).
 */
export function encodeSpanRecord(span: ReadableSpan, target: Buffer, at: number): number {
  const saveBuf = buf;
  const savePos = pos;
  if (target !== cacheOwner) {
    epoch++;
    cacheOwner = target;
  }
  buf = target;
  pos = at;
  let ok = false;
  try {
    putSpan(span);
    ok = true;
    return pos;
  } finally {
    // A half-written span leaves cache entries that point at bytes the next span overwrites.
    if (!ok) epoch++;
    recordTarget = buf;
    if (buf !== target) cacheOwner = buf; // grown: same offsets, new buffer
    buf = saveBuf;
    pos = savePos;
  }
}

/** The buffer the last {@link encodeSpanRecord} wrote into. */
export function lastRecordTarget(): Buffer {
  return recordTarget;
}

/** Where a span's encoded record lives: a chunk of bytes shared by many records. */
export interface RecordChunk {
  buf: Buffer;
}

/**
 * Pre-encoded spans (records from {@link encodeSpanRecord}), in order, with what groups them:
 * record `i` is `chunk[i].buf[off[i] .. off[i] + len[i])`, of `resource[i]` and `scope[i]`.
 */
export interface SpanRecords {
  readonly length: number;
  readonly chunk: RecordChunk[];
  readonly off: Int32Array;
  readonly len: Int32Array;
  readonly resource: Resource[];
  readonly scope: InstrumentationScope[];
}

/**
 * Encode records `from .. to` of `r` as an `ExportTraceServiceRequest`, grouped by resource and
 * scope exactly as {@link encodeTraceRequestView} groups spans: the resource and scope messages are
 * encoded, the span bytes are copied (one copy per run of records adjacent in their chunk, which
 * for records queued one after the other is the whole run). Returns a view into the encoder's
 * reused buffer, valid until the next call.
 */
export function encodeTraceRequestFromRecords(r: SpanRecords, from: number, to: number): Uint8Array {
  pos = 0;
  epoch++;
  if (buf.length > RETAIN_CAPACITY) buf = Buffer.allocUnsafe(INITIAL_CAPACITY);
  cacheOwner = buf;
  const res = r.resource;
  const sc = r.scope;
  // Fast path: every record of one resource and scope (one tracer), the common case.
  let same = true;
  const r0 = res[from];
  const s0 = sc[from];
  for (let i = from + 1; i < to; i++) {
    if (res[i] !== r0 || sc[i] !== s0) {
      same = false;
      break;
    }
  }
  if (same) {
    putResourceRecords(r0!, [{ scope: s0!, idx: undefined }], r, from, to);
    return buf.subarray(0, pos);
  }
  // General case: group indices as group() groups spans (resource identity, then scope key).
  const groups: {
    resource: Resource;
    scopes: { scope: InstrumentationScope; key: string; idx: number[] }[];
  }[] = [];
  for (let i = from; i < to; i++) {
    const resource = res[i]!;
    const scope = sc[i]!;
    let rg = groups.find((g) => g.resource === resource);
    if (!rg) {
      rg = { resource, scopes: [] };
      groups.push(rg);
    }
    const key = scopeKey(scope);
    let sg = rg.scopes.find((g) => g.key === key);
    if (!sg) {
      sg = { scope, key, idx: [] };
      rg.scopes.push(sg);
    }
    sg.idx.push(i);
  }
  for (const rg of groups) putResourceRecords(rg.resource, rg.scopes, r, from, to);
  return buf.subarray(0, pos);
}

/** A ResourceSpans of pre-encoded records: `idx` lists them, or (undefined) all of `from .. to`. */
function putResourceRecords(
  res: Resource,
  scopes: { scope: InstrumentationScope; idx: number[] | undefined }[],
  r: SpanRecords,
  from: number,
  to: number,
): void {
  // Length prefixes sized from the records' bytes plus room for the resource and scope messages,
  // so that endLen need not move the whole request to fit a prefix of another size (a fixed
  // 4-byte guess moved a 75 KB request twice per export).
  let bytes = 0;
  for (const sg of scopes) bytes += recordBytes(r, sg.idx, from, to);
  ensure(8);
  buf[pos++] = tag(1, LEN); // ExportTraceServiceRequest.resource_spans
  const reserve = varintSize(bytes + RESOURCE_ROOM);
  const at = beginLen(reserve);
  putResource(res);
  for (const sg of scopes) {
    ensure(8);
    buf[pos++] = tag(2, LEN); // ResourceSpans.scope_spans
    const scopeReserve = varintSize(recordBytes(r, sg.idx, from, to) + SCOPE_ROOM);
    const sat = beginLen(scopeReserve);
    const scope = sg.scope;
    putScope(scope);
    // The records: already complete ScopeSpans.spans fields. Adjacent ones are copied at once.
    const idx = sg.idx;
    const n = idx === undefined ? to - from : idx.length;
    let runBuf: Buffer | undefined;
    let runStart = 0;
    let runEnd = 0;
    for (let k = 0; k < n; k++) {
      const i = idx === undefined ? from + k : idx[k]!;
      const b = r.chunk[i]!.buf;
      const o = r.off[i]!;
      if (b === runBuf && o === runEnd) {
        runEnd += r.len[i]!;
        continue;
      }
      if (runBuf !== undefined) copyRun(runBuf, runStart, runEnd);
      runBuf = b;
      runStart = o;
      runEnd = o + r.len[i]!;
    }
    if (runBuf !== undefined) copyRun(runBuf, runStart, runEnd);
    if (scope.schemaUrl) putString(tag(3, LEN), scope.schemaUrl);
    endLen(sat, scopeReserve);
  }
  if (res?.schemaUrl) putString(tag(3, LEN), res.schemaUrl);
  endLen(at, reserve);
}

/** Room assumed for a Resource message (and a schema URL) beside its records. */
const RESOURCE_ROOM = 4096;
/** Room assumed for an InstrumentationScope message (and a schema URL) beside its records. */
const SCOPE_ROOM = 1024;

/** Bytes of the records `idx` lists, or (undefined) of all of `from .. to`. */
function recordBytes(r: SpanRecords, idx: number[] | undefined, from: number, to: number): number {
  const len = r.len;
  let n = 0;
  if (idx === undefined) for (let i = from; i < to; i++) n += len[i]!;
  else for (let k = 0; k < idx.length; k++) n += len[idx[k]!]!;
  return n;
}

function copyRun(src: Buffer, start: number, end: number): void {
  ensure(end - start);
  src.copy(buf, pos, start, end);
  pos += end - start;
}

/**
 * Encode spans as an OTLP/HTTP protobuf body (`application/x-protobuf`), an
 * `ExportTraceServiceRequest` per opentelemetry-proto. The result is a fresh copy.
 *
 * @example
 * ```ts
 * const body = encodeTraceRequest(spans);
 * await fetch('http://localhost:4318/v1/traces', {
 *   method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body,
 * });
 * ```
 */
export function encodeTraceRequest(spans: readonly ReadableSpan[]): Buffer {
  const view = encodeTraceRequestView(spans);
  // allocUnsafe + copy: the bytes are all overwritten, so skip Buffer.from's zero-fill.
  const out = Buffer.allocUnsafe(view.length);
  out.set(view);
  return out;
}

/** The partial success of an `ExportTraceServiceResponse`, decoded by hand (fields 1.1 and 1.2). */
export interface PartialSuccess {
  rejectedSpans: number;
  errorMessage: string;
}

/**
 * Decode `partial_success` (field 1: `rejected_spans` int64 = 1, `error_message` string = 2) from a
 * protobuf `ExportTraceServiceResponse`; unknown fields are skipped. Returns undefined when absent
 * or when the body is not valid protobuf (a response problem is not worth failing the export).
 */
export function decodePartialSuccess(body: Uint8Array): PartialSuccess | undefined {
  try {
    const r = { b: body, p: 0 };
    let found: PartialSuccess | undefined;
    while (r.p < body.length) {
      const t = readVarint(r);
      if (t >>> 3 === 1 && (t & 7) === LEN) {
        const len = readVarint(r);
        const end = r.p + len;
        if (end > body.length) return undefined;
        found ??= { rejectedSpans: 0, errorMessage: '' };
        while (r.p < end) {
          const it = readVarint(r);
          if (it >>> 3 === 1 && (it & 7) === VARINT) found.rejectedSpans = readVarint(r);
          else if (it >>> 3 === 2 && (it & 7) === LEN) {
            const sl = readVarint(r);
            if (r.p + sl > end) return undefined;
            found.errorMessage = Buffer.from(body.buffer, body.byteOffset + r.p, sl).toString('utf8');
            r.p += sl;
          } else skip(r, it & 7);
        }
        r.p = end;
      } else skip(r, t & 7);
    }
    return found;
  } catch {
    return undefined;
  }
}

interface Reader {
  b: Uint8Array;
  p: number;
}

/** A varint as a number (exact below 2^53; int64 counts of rejected spans are far below). */
function readVarint(r: Reader): number {
  let result = 0;
  let mul = 1;
  for (let i = 0; i < 10; i++) {
    if (r.p >= r.b.length) throw new RangeError('truncated varint');
    const byte = r.b[r.p++]!;
    result += (byte & 0x7f) * mul;
    if (byte < 0x80) return result;
    mul *= 128;
  }
  throw new RangeError('varint too long');
}

function skip(r: Reader, wire: number): void {
  if (wire === VARINT) readVarint(r);
  else if (wire === I64) r.p += 8;
  else if (wire === LEN) r.p += readVarint(r);
  else if (wire === I32) r.p += 4;
  else throw new RangeError(`unsupported wire type ${wire}`);
  if (r.p > r.b.length) throw new RangeError('truncated field');
}

// Re-exported for the JSON encoder, which shares the grouping and flag rules.
export { group as groupSpans, spanFlags };
export type { AttributeValue };

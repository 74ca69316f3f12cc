/**
 * W3C Baggage propagation (https://www.w3.org/TR/baggage/ §3 "Baggage HTTP Header Format").
 *
 * Grammar (§3.3.1):
 * ```
 * baggage-string = list-member 0*179( OWS "," OWS list-member )
 * list-member    = key OWS "=" OWS value *( OWS ";" OWS property )
 * property       = key OWS "=" OWS value / key OWS
 * key            = token                       ; RFC 9110 §5.6.2
 * value          = *baggage-octet              ; percent-encoded beyond this set
 * baggage-octet  = %x21 / %x23-2B / %x2D-3A / %x3C-5B / %x5D-7E
 * ```
 * Limits (§3.3.2): everything is propagated up to 64 members and 8192 bytes; beyond that whole
 * members are dropped, never a part of one.
 */
import type {
  Baggage,
  BaggageEntry,
  Context,
  TextMapGetter,
  TextMapPropagator,
  TextMapSetter,
} from '@opentelemetry/api';
import { baggageEntryMetadataFromString, propagation } from '../api.js';
import { report } from '../sdk/report.js';
import { detach, isOws, isTracingSuppressed, lowerHex, reportFailure } from './carrier.js';

/** Header name (§3.1). */
export const BAGGAGE_HEADER = 'baggage';
/** §3.3.2 Condition 1. */
export const BAGGAGE_MAX_MEMBERS = 64;
/** §3.3.2 Condition 2: size of the whole `baggage-string`, commas included. */
export const BAGGAGE_MAX_BYTES = 8192;
/** Above this size a header's substrings are copied so they do not pin it in memory. */
const DETACH_THRESHOLD = 4 * BAGGAGE_MAX_BYTES;

/** `tchar` of RFC 9110 §5.6.2, indexed by char code. */
const TCHAR = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~") TCHAR[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) TCHAR[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TCHAR[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) TCHAR[c] = 1;

/** `baggage-octet` (§3.3.1.3), indexed by char code. */
const OCTET = new Uint8Array(128);
for (let c = 0x21; c <= 0x7e; c++) OCTET[c] = 1;
OCTET[0x22] = 0; // DQUOTE
OCTET[0x2c] = 0; // ,
OCTET[0x3b] = 0; // ;
OCTET[0x5c] = 0; // backslash

function isTchar(c: number): boolean {
  return c < 128 && TCHAR[c] === 1;
}
function isOctet(c: number): boolean {
  return c < 128 && OCTET[c] === 1;
}

/** A `token` (RFC 9110 §5.6.2): the only keys the header can carry. */
export function isValidBaggageKey(key: unknown): key is string {
  if (typeof key !== 'string' || key.length === 0) return false;
  for (let i = 0; i < key.length; i++) if (!isTchar(key.charCodeAt(i))) return false;
  return true;
}

function isTokenRange(s: string, from: number, to: number): boolean {
  if (from >= to) return false;
  for (let i = from; i < to; i++) if (!isTchar(s.charCodeAt(i))) return false;
  return true;
}

/** Every char in `[from, to)` is a baggage-octet; `%` must start `%XX` (§3.3.1.3 "MUST be percent-encoded"). */
function isValueRange(s: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (!isOctet(c)) return false;
    if (c === 0x25 && (i + 2 >= to || hexAny(s.charCodeAt(i + 1)) < 0 || hexAny(s.charCodeAt(i + 2)) < 0)) {
      return false;
    }
  }
  return true;
}

/**
 * First index of `code` in `s[from, to)`, or `to`. `String#indexOf` has no end bound: searching a
 * member with it would scan the rest of the header each time, quadratic on a long hostile header.
 */
function find(s: string, code: number, from: number, to: number): number {
  for (let i = from; i < to; i++) if (s.charCodeAt(i) === code) return i;
  return to;
}

/** RFC 3986 §2.1 HEXDIG (either case), or -1. */
function hexAny(c: number): number {
  const h = lowerHex(c);
  if (h >= 0) return h;
  return c >= 0x41 && c <= 0x46 ? c - 55 : -1;
}

const HEX = '0123456789ABCDEF';
// ignoreBOM: a value may legitimately start with U+FEFF; fatal: false replaces invalid UTF-8 with U+FFFD.
const decoder = new TextDecoder('utf-8', { ignoreBOM: true, fatal: false });

/**
 * Percent-encode a value for the header (§3.3.1.3): every code point outside `baggage-octet`, and
 * `%` itself, as UTF-8 `%XX`. Other characters are sent as they are, so a value of plain letters,
 * digits and punctuation costs nothing.
 */
export function encodeBaggageValue(value: string): string {
  let i = 0;
  const n = value.length;
  while (i < n) {
    const c = value.charCodeAt(i);
    if (!isOctet(c) || c === 0x25) break;
    i++;
  }
  if (i === n) return value;
  let out = value.slice(0, i);
  for (; i < n; i++) {
    let c = value.charCodeAt(i);
    if (c < 0x80) {
      out += OCTET[c] === 1 && c !== 0x25 ? value[i] : ESCAPED[c];
      continue;
    }
    // UTF-8 (RFC 3629) by hand: TextEncoder costs more than the whole header for short values.
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < n) {
      const d = value.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
      }
    }
    if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd; // a lone surrogate is not encodable: U+FFFD
    if (c < 0x800) out += pct(0xc0 | (c >> 6)) + pct(0x80 | (c & 63));
    else if (c < 0x10000) out += pct(0xe0 | (c >> 12)) + pct(0x80 | ((c >> 6) & 63)) + pct(0x80 | (c & 63));
    else {
      out +=
        pct(0xf0 | (c >> 18)) +
        pct(0x80 | ((c >> 12) & 63)) +
        pct(0x80 | ((c >> 6) & 63)) +
        pct(0x80 | (c & 63));
    }
  }
  return out;
}

function pct(b: number): string {
  return `%${HEX[b >> 4]}${HEX[b & 15]}`;
}

/** `%XX` for each ASCII code, built once. */
const ESCAPED: readonly string[] = Array.from({ length: 128 }, (_, c) => pct(c));

/** Length of {@link encodeBaggageValue}(value) without building it. */
function encodedBaggageLength(value: string): number {
  let len = 0;
  const n = value.length;
  for (let i = 0; i < n; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x80) len += OCTET[c] === 1 && c !== 0x25 ? 1 : 3;
    else if (c < 0x800) len += 6;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < n) {
      const d = value.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        len += 12;
        i++;
      } else len += 9;
    } else len += 9;
  }
  return len;
}

/**
 * Decode a value already checked by {@link isValueRange}: `%XX` escapes become bytes, decoded as
 * UTF-8 with invalid sequences replaced by U+FFFD, as §3.3.1.3 requires ("percent-encoded octet
 * sequences that do not match the UTF-8 encoding scheme MUST be replaced with the replacement code
 * point"). The official JS propagator drops such members instead.
 */
export function decodeBaggageValue(s: string, from = 0, to = s.length): string {
  const pct = find(s, 0x25, from, to);
  if (pct === to) return s.slice(from, to);
  // Fast path: escapes of ASCII bytes only (`%20`, `%2C`…) decode without a TextDecoder.
  let out = s.slice(from, pct);
  let i = pct;
  for (; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c !== 0x25) {
      out += s[i];
      continue;
    }
    const b = i + 2 < to ? (hexAny(s.charCodeAt(i + 1)) << 4) | hexAny(s.charCodeAt(i + 2)) : -1;
    if (b < 0 || b >= 0x80) break;
    out += String.fromCharCode(b);
    i += 2;
  }
  if (i >= to) return out;
  // A multi-byte (or invalid) UTF-8 sequence: decode the whole value as bytes.
  const bytes = new Uint8Array(to - from);
  let n = 0;
  for (let j = from; j < to; j++) {
    const c = s.charCodeAt(j);
    const h1 = c === 0x25 && j + 2 < to ? hexAny(s.charCodeAt(j + 1)) : -1;
    const h2 = h1 < 0 ? -1 : hexAny(s.charCodeAt(j + 2));
    if (h2 >= 0) {
      bytes[n++] = (h1 << 4) | h2;
      j += 2;
    } else {
      bytes[n++] = c;
    }
  }
  return decoder.decode(bytes.subarray(0, n));
}

/** Outcome of parsing one list-member. */
interface Member {
  key: string;
  value: string;
  /** Canonical properties (`k1;k2=v2`, OWS removed), or undefined. */
  props: string | undefined;
  /** Size of the member as we would send it: `key=encodedValue[;props]`. */
  size: number;
}

/**
 * Parse one list-member in `s[from, to)` (OWS already trimmed at both ends). `undefined` when it is
 * malformed: the member is then dropped on its own (§3.4 allows removing an offending member).
 */
function parseMember(s: string, from: number, to: number): Member | undefined {
  const semi = find(s, 0x3b, from, to);
  const eq = find(s, 0x3d, from, semi);
  if (eq === semi) return undefined;
  // key OWS "=" OWS value: split on the first '=' (values may contain '=', §3.3.1.3).
  let keyEnd = eq;
  while (keyEnd > from && isOws(s.charCodeAt(keyEnd - 1))) keyEnd--;
  if (!isTokenRange(s, from, keyEnd)) return undefined;
  let valueStart = eq + 1;
  while (valueStart < semi && isOws(s.charCodeAt(valueStart))) valueStart++;
  let valueEnd = semi;
  while (valueEnd > valueStart && isOws(s.charCodeAt(valueEnd - 1))) valueEnd--;
  if (!isValueRange(s, valueStart, valueEnd)) return undefined;
  let props: string | undefined;
  if (semi < to) {
    props = parseProperties(s, semi + 1, to);
    if (props === undefined) return undefined;
  }
  const key = detach(s.slice(from, keyEnd), s, DETACH_THRESHOLD);
  const escaped = find(s, 0x25, valueStart, valueEnd) !== valueEnd;
  const value = escaped
    ? decodeBaggageValue(s, valueStart, valueEnd)
    : detach(s.slice(valueStart, valueEnd), s, DETACH_THRESHOLD);
  // The limits count the member as it will be sent again: decoded, then re-encoded by us.
  const encodedLength = escaped ? encodedBaggageLength(value) : valueEnd - valueStart;
  const size = key.length + 1 + encodedLength + (props === undefined ? 0 : 1 + props.length);
  return { key, value, props: props === undefined ? undefined : detach(props, s, DETACH_THRESHOLD), size };
}

/**
 * Validate `;`-separated properties in `s[from, to)` and return them canonically (`k1;k2=v2`, OWS
 * removed), or `undefined` when one is malformed. Property values stay percent-encoded: the API keeps
 * them as opaque metadata, which we re-send as received.
 */
function parseProperties(s: string, from: number, to: number): string | undefined {
  let out = '';
  let i = from;
  while (i <= to) {
    const end = find(s, 0x3b, i, to);
    let a = i;
    let b = end;
    while (a < b && isOws(s.charCodeAt(a))) a++;
    while (b > a && isOws(s.charCodeAt(b - 1))) b--;
    if (a === b) return undefined;
    const eq = find(s, 0x3d, a, b);
    if (eq === b) {
      if (!isTokenRange(s, a, b)) return undefined;
      out += `${out === '' ? '' : ';'}${s.slice(a, b)}`;
    } else {
      let keyEnd = eq;
      while (keyEnd > a && isOws(s.charCodeAt(keyEnd - 1))) keyEnd--;
      let valueStart = eq + 1;
      while (valueStart < b && isOws(s.charCodeAt(valueStart))) valueStart++;
      if (!isTokenRange(s, a, keyEnd) || !isValueRange(s, valueStart, b)) return undefined;
      out += `${out === '' ? '' : ';'}${s.slice(a, keyEnd)}=${s.slice(valueStart, b)}`;
    }
    i = end + 1;
  }
  return out;
}

/** Accumulates accepted members across (possibly several) header values, within the limits. */
class Collector {
  // A plain object: `Object.create(null)` would cost several hundred ns per request in V8.
  readonly entries: Record<string, BaggageEntry> = {};
  count = 0;
  bytes = 0;

  /** Parse one header value; returns false once no further member can be accepted. */
  add(s: string): boolean {
    const n = s.length;
    let i = 0;
    while (i < n) {
      // The smallest member is `k=` (2 bytes) plus a comma: stop once not even that fits.
      if (this.count >= BAGGAGE_MAX_MEMBERS || this.bytes + (this.count === 0 ? 2 : 3) > BAGGAGE_MAX_BYTES) {
        return false;
      }
      let end = s.indexOf(',', i);
      if (end === -1) end = n;
      let a = i;
      let b = end;
      while (a < b && isOws(s.charCodeAt(a))) a++;
      while (b > a && isOws(s.charCodeAt(b - 1))) b--;
      i = end + 1;
      // Empty members are not in the grammar but appear when headers are joined: skip them. A raw
      // member that could not fit even after decoding (escapes shrink at most 3:1) is not parsed.
      if (a === b || b - a > 3 * BAGGAGE_MAX_BYTES) continue;
      const m = parseMember(s, a, b);
      if (m === undefined) continue;
      if (Object.hasOwn(this.entries, m.key)) continue; // duplicate key: the first one wins (§3.4)
      const added = (this.count === 0 ? 0 : 1) + m.size;
      if (this.bytes + added > BAGGAGE_MAX_BYTES) continue; // never a partial member (§3.3.2)
      const entry: BaggageEntry =
        m.props === undefined
          ? { value: m.value }
          : { value: m.value, metadata: baggageEntryMetadataFromString(m.props) };
      // `__proto__` is a valid token: define it as an own key, assigning it would set the prototype.
      if (m.key === '__proto__') {
        Object.defineProperty(this.entries, m.key, {
          value: entry,
          enumerable: true,
          writable: true,
          configurable: true,
        });
      } else {
        this.entries[m.key] = entry;
      }
      this.count++;
      this.bytes += added;
    }
    return true;
  }
}

/**
 * Parse `baggage` header value(s) into entries, applying the §3.3.2 limits. Malformed members are
 * dropped one by one; never throws for string input.
 *
 * @example
 * ```ts
 * parseBaggageHeader('userId=alice;ttl=60, serverNode=DF%2028');
 * // { userId: { value: 'alice', metadata: … 'ttl=60' }, serverNode: { value: 'DF 28' } }
 * ```
 */
export function parseBaggageHeader(header: string | readonly string[]): Record<string, BaggageEntry> {
  const c = new Collector();
  if (typeof header === 'string') c.add(header);
  else for (const h of header) if (typeof h !== 'string' || !c.add(h)) break;
  return c.entries;
}

/** Serialise `baggage` for the header within the limits; `''` when nothing is left to send. */
export function serializeBaggage(baggage: Baggage): string {
  let out = '';
  let count = 0;
  for (const [key, entry] of baggage.getAllEntries()) {
    if (count >= BAGGAGE_MAX_MEMBERS) break;
    if (!isValidBaggageKey(key)) {
      report('baggage.key', `baggage key "${String(key).slice(0, 64)}" is not an RFC 9110 token; not sent`);
      continue;
    }
    const value = typeof entry?.value === 'string' ? entry.value : '';
    let member = `${key}=${encodeBaggageValue(value)}`;
    const meta = entry?.metadata?.toString();
    if (typeof meta === 'string' && meta !== '') {
      const props = parseProperties(meta, 0, meta.length);
      if (props !== undefined) member += `;${props}`;
      else report('baggage.metadata', `baggage metadata of "${key}" is not a valid property list; not sent`);
    }
    const next = out === '' ? member : `${out},${member}`;
    if (next.length > BAGGAGE_MAX_BYTES) continue; // drop whole members that do not fit (§3.3.2)
    out = next;
    count++;
  }
  return out;
}

/**
 * W3C Baggage propagator for `@opentelemetry/api`, usable with any SDK.
 *
 * - Values are percent-encoded on inject and decoded on extract (invalid UTF-8 becomes U+FFFD).
 * - Keys must be RFC 9110 tokens; properties are kept as entry metadata
 *   (`baggageEntryMetadataFromString`) and sent back as received.
 * - Up to 64 members and 8192 bytes are propagated, whole members only; malformed members are
 *   dropped individually; a duplicate key keeps its first value.
 * - `extract` never throws.
 *
 * @example
 * ```ts
 * import { propagation, context } from '@opentelemetry/api';
 * import { W3CBaggagePropagator } from '@tracewire/core';
 * const ctx = new W3CBaggagePropagator().extract(context.active(), { baggage: 'tenant=acme' }, {
 *   get: (c, k) => c[k], keys: (c) => Object.keys(c),
 * });
 * propagation.getBaggage(ctx)?.getEntry('tenant')?.value; // 'acme'
 * ```
 */
export class W3CBaggagePropagator implements TextMapPropagator {
  inject(context: Context, carrier: unknown, setter: TextMapSetter): void {
    try {
      const baggage = propagation.getBaggage(context);
      if (baggage === undefined || isTracingSuppressed(context)) return;
      const value = serializeBaggage(baggage);
      if (value !== '') setter.set(carrier, BAGGAGE_HEADER, value);
    } catch (err) {
      reportFailure('baggage.inject', 'W3C baggage inject', err);
    }
  }

  extract(context: Context, carrier: unknown, getter: TextMapGetter): Context {
    try {
      // Case-insensitive names are the getter's job (see caseInsensitiveGetter): no key scan here.
      const raw: unknown = getter.get(carrier, BAGGAGE_HEADER);
      if (typeof raw !== 'string' && !Array.isArray(raw)) return context;
      const c = new Collector();
      if (typeof raw === 'string') c.add(raw);
      else for (const h of raw as unknown[]) if (typeof h === 'string' && !c.add(h)) break;
      if (c.count === 0) return context;
      return propagation.setBaggage(context, propagation.createBaggage(c.entries));
    } catch (err) {
      reportFailure('baggage.extract', 'W3C baggage extract', err);
      return context;
    }
  }

  fields(): string[] {
    return [BAGGAGE_HEADER];
  }
}

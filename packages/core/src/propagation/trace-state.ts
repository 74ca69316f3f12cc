/**
 * A strict W3C `tracestate` (Trace Context Level 2, §3.3 "Tracestate Header").
 *
 * Parsing is all-or-nothing: any member that breaks the key or value grammar, or more than 32
 * members, makes the whole header invalid (the strict variant of the W3C conformance suite; the
 * official `@opentelemetry/core` implementation keeps the valid members instead). Parsing is a single
 * hand-written pass over the string (no regex, no backtracking), linear in its length.
 */
import type { TraceState as ApiTraceState } from '@opentelemetry/api';
import { detach, isOws } from './carrier.js';
import { report } from '../sdk/report.js';

/** §3.3.1.1: "There can be a maximum of 32 list-members in a list." */
export const MAX_TRACE_STATE_MEMBERS = 32;
/** §3.3.1.3.1: a key is 1 + up to 255 more characters. */
const MAX_KEY_LENGTH = 256;
/** §3.3.1.3.2: a value is up to 256 printable characters. */
const MAX_VALUE_LENGTH = 256;
/** Above this size a header's substrings are copied so they do not pin it in memory. */
const DETACH_THRESHOLD = 16384;

/** Shared by every empty list (lists are immutable). */
const EMPTY: readonly string[] = Object.freeze([]);

/** Brand checked instead of `instanceof`: the CJS and the ESM build each have their own class. */
const BRAND = Symbol.for('tracewire.TraceState');

/** `lcalpha / DIGIT` (§3.3.1.3.1: a key begins with a lowercase letter or a digit). */
function isKeyStart(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39);
}

/** `keychar = lcalpha / DIGIT / "_" / "-" / "*" / "/" / "@"` (§3.3.1.3.1). */
function isKeyChar(c: number): boolean {
  return isKeyStart(c) || c === 0x5f || c === 0x2d || c === 0x2a || c === 0x2f || c === 0x40;
}

/** `chr = %x20 / nblk-chr`, `nblk-chr = %x21-2B / %x2D-3C / %x3E-7E` (§3.3.1.3.2). */
function isValueChar(c: number): boolean {
  return c >= 0x20 && c <= 0x7e && c !== 0x2c && c !== 0x3d;
}

/** A complete key per §3.3.1.3.1: `( lcalpha / DIGIT ) 0*255 ( keychar )`. */
export function isValidTraceStateKey(key: unknown): key is string {
  if (typeof key !== 'string') return false;
  const n = key.length;
  if (n === 0 || n > MAX_KEY_LENGTH || !isKeyStart(key.charCodeAt(0))) return false;
  for (let i = 1; i < n; i++) if (!isKeyChar(key.charCodeAt(i))) return false;
  return true;
}

/** A complete value per §3.3.1.3.2: 1–256 chars of 0x20–0x7E except `,` `=`, not ending in a space. */
export function isValidTraceStateValue(value: unknown): value is string {
  if (typeof value !== 'string') return false;
  const n = value.length;
  if (n === 0 || n > MAX_VALUE_LENGTH || value.charCodeAt(n - 1) === 0x20) return false;
  for (let i = 0; i < n; i++) if (!isValueChar(value.charCodeAt(i))) return false;
  return true;
}

/**
 * Parse a combined `tracestate` header value strictly. Returns `undefined` when the header is
 * invalid as a whole (it must then be dropped entirely) and an empty list when it only holds empty
 * members. Duplicate keys keep the first (left-most) member: since Level 2 (w3c/trace-context#477)
 * uniqueness is the sender's duty and a receiver "MAY discard duplicate keys" while inheriting the
 * rest, which is what the W3C conformance suite (`test_tracestate_duplicated_keys`) checks.
 */
function parseMembers(header: string): Parsed | undefined {
  const keys: string[] = [];
  const values: string[] = [];
  const n = header.length;
  // Canonical: the header is exactly what serialize() would produce (no OWS, empty members or
  // duplicates), so it can be re-sent as is, without building a string on inject.
  let canonical = true;
  let members = 0;
  let i = 0;
  while (i < n) {
    // Leading OWS of a list-member (or an empty, OWS-only member: allowed by §3.3.1.1).
    let c = header.charCodeAt(i);
    if (isOws(c)) {
      canonical = false;
      while (isOws(c)) c = header.charCodeAt(++i);
    }
    if (i >= n) break;
    if (c === 0x2c) {
      canonical = false;
      i++;
      continue;
    }
    // key
    const keyStart = i;
    if (!isKeyStart(c)) return undefined;
    i++;
    while (i < n) {
      c = header.charCodeAt(i);
      if (c === 0x3d) break;
      if (!isKeyChar(c) || i - keyStart >= MAX_KEY_LENGTH) return undefined;
      i++;
    }
    const keyEnd = i;
    if (i >= n || keyEnd - keyStart > MAX_KEY_LENGTH) return undefined;
    i++; // '='
    // value: up to the next comma; trailing SP/HTAB is OWS, not part of the value (§3.3.1.3.2).
    const valueStart = i;
    let memberEnd = header.indexOf(',', i);
    if (memberEnd === -1) memberEnd = n;
    let valueEnd = memberEnd;
    while (valueEnd > valueStart && isOws(header.charCodeAt(valueEnd - 1))) valueEnd--;
    // A trailing comma leaves an empty last member: not canonical either.
    if (valueEnd !== memberEnd || memberEnd === n - 1) canonical = false;
    const valueLength = valueEnd - valueStart;
    if (valueLength === 0 || valueLength > MAX_VALUE_LENGTH) return undefined;
    for (let j = valueStart; j < valueEnd; j++) if (!isValueChar(header.charCodeAt(j))) return undefined;
    if (++members > MAX_TRACE_STATE_MEMBERS) return undefined;
    const key = header.slice(keyStart, keyEnd);
    if (!keys.includes(key)) {
      keys.push(detach(key, header, DETACH_THRESHOLD));
      values.push(detach(header.slice(valueStart, valueEnd), header, DETACH_THRESHOLD));
    } else {
      canonical = false;
    }
    i = memberEnd + 1;
  }
  return { keys, values, serialized: canonical ? header : undefined };
}

interface Parsed {
  keys: string[];
  values: string[];
  serialized: string | undefined;
}

/**
 * An immutable W3C `tracestate` list implementing the `TraceState` interface of
 * `@opentelemetry/api`, with strict validation: an invalid header yields an empty list, `set()` with
 * an invalid key or value changes nothing, and the list never holds more than 32 members (adding a
 * 33rd drops the right-most, §3.3.1.1). Mutations return a new instance and move the key to the
 * front (left), as §3.5 requires.
 *
 * @example
 * ```ts
 * import { TraceState } from '@tracewire/core';
 * const ts = new TraceState('rojo=00f067aa0ba902b7,congo=t61rcWkgMzE');
 * ts.set('acme', 'x1').serialize(); // 'acme=x1,rojo=00f067aa0ba902b7,congo=t61rcWkgMzE'
 * new TraceState('@bad=1,good=2').serialize(); // '' (one invalid member drops the whole header)
 * ```
 */
export class TraceState implements ApiTraceState {
  readonly [BRAND] = true;
  #k: readonly string[];
  #v: readonly string[];
  #serialized: string | undefined;

  /**
   * @param raw a `tracestate` header value; invalid input gives an empty list.
   */
  constructor(raw?: string) {
    const parsed = typeof raw === 'string' ? parseMembers(raw) : undefined;
    this.#k = parsed?.keys ?? EMPTY;
    this.#v = parsed?.values ?? EMPTY;
  }

  /**
   * Strictly parse a header value: `undefined` when it is invalid and must be dropped as a whole.
   *
   * @example
   * ```ts
   * TraceState.parse('foo=1,bar=2')?.get('bar'); // '2'
   * TraceState.parse('foo=,bar=3'); // undefined
   * ```
   */
  static parse(raw: string): TraceState | undefined {
    const parsed = parseMembers(raw);
    return parsed ? TraceState.#from(parsed.keys, parsed.values, parsed.serialized) : undefined;
  }

  static #from(keys: readonly string[], values: readonly string[], serialized?: string): TraceState {
    const ts = new TraceState();
    ts.#k = keys;
    ts.#v = values;
    ts.#serialized = serialized;
    return ts;
  }

  /** Number of members. */
  get size(): number {
    return this.#k.length;
  }

  /** The value of `key`, or `undefined`. */
  get(key: string): string | undefined {
    const i = this.#k.indexOf(key);
    return i === -1 ? undefined : this.#v[i];
  }

  /**
   * A new list with `key` set to `value` and moved to the front. An invalid key or value is reported
   * through `diag` and the list is returned unchanged.
   */
  set(key: string, value: string): TraceState {
    if (!isValidTraceStateKey(key) || !isValidTraceStateValue(value)) {
      report(
        'tracestate.set',
        `TraceState.set: invalid key or value for "${String(key).slice(0, 64)}" (W3C Trace Context §3.3.1.3); ignored`,
        'warn',
      );
      return this;
    }
    const keys = [key];
    const values = [value];
    const k = this.#k;
    const v = this.#v;
    for (let i = 0; i < k.length && keys.length < MAX_TRACE_STATE_MEMBERS; i++) {
      if (k[i] !== key) {
        keys.push(k[i]!);
        values.push(v[i]!);
      }
    }
    return TraceState.#from(keys, values);
  }

  /** A new list without `key` (the same list when `key` is absent). */
  unset(key: string): TraceState {
    const i = this.#k.indexOf(key);
    if (i === -1) return this;
    const keys = this.#k.slice();
    const values = this.#v.slice();
    keys.splice(i, 1);
    values.splice(i, 1);
    return TraceState.#from(keys, values);
  }

  /** The header value (`k1=v1,k2=v2`), or `''` for an empty list. */
  serialize(): string {
    if (this.#serialized !== undefined) return this.#serialized;
    const k = this.#k;
    const v = this.#v;
    let out = '';
    for (let i = 0; i < k.length; i++) out += `${i === 0 ? '' : ','}${k[i]}=${v[i]}`;
    this.#serialized = out;
    return out;
  }
}

/** True for a {@link TraceState} from any copy (CJS or ESM) of this package. */
export function isStrictTraceState(value: unknown): value is TraceState {
  return typeof value === 'object' && value !== null && (value as { [BRAND]?: unknown })[BRAND] === true;
}

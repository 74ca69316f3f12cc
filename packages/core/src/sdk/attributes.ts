/**
 * Attribute validation (OpenTelemetry specification `common/README.md`, "Attribute"): a value is a
 * string, boolean, number, or a homogeneous array of one of those (`null`/`undefined` entries
 * allowed); anything else is dropped. Keys must be non-empty strings. Strings longer than the value
 * length limit are truncated, element-wise in arrays ("Attribute Limits").
 */
import type { Attributes, AttributeValue } from '@opentelemetry/api';

/**
 * Attribute bags have no `Object.prototype`: a key such as `__proto__`, `constructor` or `toString`
 * is stored and counted like any other, and an `in`/`=== undefined` test sees own keys only. The
 * instances still get fast V8 hidden classes (unlike `Object.create(null)` literals).
 */
function AttributeBag(this: object): void {}
AttributeBag.prototype = Object.create(null);

/** A new, empty attribute bag. */
export function newAttributes(): Attributes {
  return new (AttributeBag as unknown as new () => Attributes)();
}

function isHomogeneousArray(arr: readonly unknown[]): boolean {
  let type: string | undefined;
  for (let i = 0; i < arr.length; i++) {
    const el = arr[i];
    if (el === null || el === undefined) continue;
    const t = typeof el;
    if (t !== 'string' && t !== 'number' && t !== 'boolean') return false;
    if (type === undefined) type = t;
    else if (t !== type) return false;
  }
  return true;
}

/** Whether `v` is a valid attribute value (null/undefined are not: they mean "no value"). */
export function isAttributeValue(v: unknown): v is AttributeValue {
  const t = typeof v;
  if (t === 'string' || t === 'number' || t === 'boolean') return true;
  return Array.isArray(v) && isHomogeneousArray(v);
}

/** `v` with strings cut to `limit` characters (arrays copied, element-wise). */
export function truncateValue(v: AttributeValue, limit: number): AttributeValue {
  if (typeof v === 'string') return v.length > limit ? v.slice(0, limit) : v;
  if (Array.isArray(v)) {
    let changed = false;
    const out = (v as unknown[]).map((el) => {
      if (typeof el === 'string' && el.length > limit) {
        changed = true;
        return el.slice(0, limit);
      }
      return el;
    });
    return (changed ? out : v.slice()) as AttributeValue;
  }
  return v;
}

/**
 * Copy the valid members of `input` into a new bag, at most `countLimit` of them, strings truncated
 * to `lengthLimit`. Returns the bag and how many valid members did not fit.
 */
export function sanitizeAttributes(
  input: Attributes | undefined,
  countLimit: number,
  lengthLimit: number,
): { attributes: Attributes; dropped: number } {
  const out = newAttributes();
  let count = 0;
  let dropped = 0;
  if (input) {
    for (const key in input) {
      if (!Object.hasOwn(input, key) || key === '') continue;
      const v = input[key];
      if (v === null || v === undefined || !isAttributeValue(v)) continue;
      if (out[key] === undefined) {
        if (count >= countLimit) {
          dropped++;
          continue;
        }
        count++;
      }
      out[key] = lengthLimit === Number.POSITIVE_INFINITY ? copyArray(v) : truncateValue(v, lengthLimit);
    }
  }
  return { attributes: out, dropped };
}

/** Arrays are copied so a caller mutating its array afterwards does not change the span. */
export function copyArray(v: AttributeValue): AttributeValue {
  return Array.isArray(v) ? (v.slice() as AttributeValue) : v;
}

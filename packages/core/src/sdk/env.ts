/**
 * Reading `OTEL_*` environment variables per the OpenTelemetry specification
 * (`specification/configuration/sdk-environment-variables.md`, "Parsing empty value",
 * "Configuration types"): an empty value means unset; booleans are true only for a
 * case-insensitive `true`; enums are case-insensitive and unknown values are warned about and
 * ignored; numbers that do not parse are warned about and treated as unset.
 */
import { diag } from '../api.js';

type Env = Record<string, string | undefined>;

const proc = (globalThis as { process?: { env?: Env } }).process;

/** The environment to read. Tests may pass their own; defaults to `process.env`. */
export function defaultEnv(): Env {
  return proc?.env ?? {};
}

/** A trimmed value, or undefined when unset or empty. */
export function envString(name: string, env: Env = defaultEnv()): string | undefined {
  const raw = env[name];
  if (raw === undefined) return undefined;
  const v = raw.trim();
  return v === '' ? undefined : v;
}

/** `true` only for a case-insensitive `true`; any other non-empty value is false (and warned about unless `false`). */
export function envBoolean(name: string, env: Env = defaultEnv()): boolean | undefined {
  const v = envString(name, env);
  if (v === undefined) return undefined;
  const lower = v.toLowerCase();
  if (lower === 'true') return true;
  if (lower !== 'false')
    diag.warn(`tracewire: ${name}="${v}" is not a boolean (true/false); treating it as false`);
  return false;
}

/**
 * A number in `[min, max]`; a value that does not parse or is out of range is warned about and
 * treated as unset (spec: "Numeric value").
 */
export function envNumber(
  name: string,
  env: Env = defaultEnv(),
  { min = Number.NEGATIVE_INFINITY, max = Number.POSITIVE_INFINITY, integer = false } = {},
): number | undefined {
  const v = envString(name, env);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || (integer && !Number.isInteger(n)) || n < min || n > max) {
    diag.warn(
      `tracewire: ${name}="${v}" is not a valid ${integer ? 'integer' : 'number'}${
        Number.isFinite(min) || Number.isFinite(max) ? ` in [${min}, ${max}]` : ''
      }; ignoring it`,
    );
    return undefined;
  }
  return n;
}

/** A case-insensitive enum value (returned lowercased); unknown values are warned about and ignored. */
export function envEnum<T extends string>(
  name: string,
  allowed: readonly T[],
  env: Env = defaultEnv(),
): T | undefined {
  const v = envString(name, env);
  if (v === undefined) return undefined;
  const lower = v.toLowerCase() as T;
  if (allowed.includes(lower)) return lower;
  diag.warn(`tracewire: ${name}="${v}" is not one of ${allowed.join(', ')}; ignoring it`);
  return undefined;
}

/** A comma-separated list of trimmed, non-empty, lowercased items (e.g. `OTEL_PROPAGATORS`). */
export function envList(name: string, env: Env = defaultEnv()): string[] | undefined {
  const v = envString(name, env);
  if (v === undefined) return undefined;
  return v
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s !== '');
}

/**
 * A `k1=v1,k2=v2` list with percent-decoded keys and values (W3C Baggage octet rules, as used by
 * `OTEL_RESOURCE_ATTRIBUTES` and `OTEL_EXPORTER_OTLP_HEADERS`). Returns undefined (and warns) when any
 * member fails to decode or has no `=`: the spec says to discard the whole variable on a decoding error.
 */
export function envKeyValueList(name: string, env: Env = defaultEnv()): Record<string, string> | undefined {
  const v = envString(name, env);
  if (v === undefined) return undefined;
  const out: Record<string, string> = {};
  for (const member of v.split(',')) {
    if (member.trim() === '') continue;
    const eq = member.indexOf('=');
    if (eq <= 0) {
      diag.warn(
        `tracewire: ${name} has a member without "key=value" ("${member}"); ignoring the whole variable`,
      );
      return undefined;
    }
    try {
      const key = decodeURIComponent(member.slice(0, eq).trim());
      const value = decodeURIComponent(member.slice(eq + 1).trim());
      if (key === '') throw new Error('empty key');
      out[key] = value;
    } catch {
      diag.warn(
        `tracewire: ${name} could not be percent-decoded at "${member}"; ignoring the whole variable`,
      );
      return undefined;
    }
  }
  return out;
}

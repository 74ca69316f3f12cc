/**
 * Pure helpers that read an incoming request the way the HTTP semantic conventions ask
 * (semantic-conventions `docs/http/http-spans.md`, "HTTP server"; SPEC.md section 3). Every helper
 * tolerates malformed input: a value it cannot parse is treated as absent, never thrown about.
 */
import type { Attributes } from '@opentelemetry/api';
import { envString } from '../sdk/env.js';
import { report } from '../sdk/report.js';

/** The methods semconv calls "known" (RFC 9110 plus PATCH, RFC 5789). */
export const DEFAULT_KNOWN_METHODS: readonly string[] = [
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'DELETE',
  'CONNECT',
  'OPTIONS',
  'TRACE',
  'PATCH',
];

/**
 * Query keys whose values are always redacted (semconv `url.query`/`url.full`: "sensitive content
 * ... SHOULD be scrubbed"; the list is semconv's, plus the AWS presigned-URL credentials).
 */
export const DEFAULT_REDACTED_QUERY_KEYS: readonly string[] = [
  'X-Amz-Signature',
  'X-Amz-Credential',
  'X-Amz-Security-Token',
  'AWSAccessKeyId',
  'Signature',
  'sig',
  'X-Goog-Signature',
];

/** Headers that are never captured whatever the configuration says (DESIGN.md, "No secrets by default"). */
export const NEVER_CAPTURED_HEADERS: ReadonlySet<string> = new Set([
  'authorization',
  'cookie',
  'set-cookie',
  'proxy-authorization',
]);

/** Longest header value the forwarded-header parsers look at; a longer value is a malformed/abusive one. */
const MAX_FORWARDED_LENGTH = 8192;
/** Longest host name (RFC 1035 says 253 octets; a little slack for ports and brackets). */
const MAX_HOST_LENGTH = 300;

/** The first value of a header that Node may have turned into an array (`set-cookie`) or left undefined. */
export function headerString(value: string | string[] | undefined): string | undefined {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return typeof value[0] === 'string' ? value[0] : undefined;
  return undefined;
}

/** The part of a comma-separated list before the first comma, trimmed; undefined when empty. */
export function firstListItem(value: string): string | undefined {
  const comma = value.indexOf(',');
  const item = (comma === -1 ? value : value.slice(0, comma)).trim();
  return item === '' ? undefined : item;
}

/** What `Forwarded` (RFC 7239) says about the original request; each field from its first occurrence. */
export interface ForwardedInfo {
  host?: string;
  proto?: string;
  for?: string;
}

/**
 * Parse an RFC 7239 `Forwarded` header: `for=192.0.2.60;proto=http;host=a.example, for=…`.
 * Elements are ordered from the client outwards, so for each parameter the first occurrence is the
 * original one. Quoted strings (with `\` escapes) are supported; a malformed pair is skipped rather
 * than poisoning the whole header. Returns undefined when nothing useful was found.
 */
export function parseForwarded(header: string): ForwardedInfo | undefined {
  if (header.length > MAX_FORWARDED_LENGTH) return undefined;
  let info: ForwardedInfo | undefined;
  const n = header.length;
  let i = 0;
  while (i < n) {
    // skip separators and whitespace between pairs
    let c = header.charCodeAt(i);
    if (c === 0x2c /* , */ || c === 0x3b /* ; */ || c === 0x20 || c === 0x09) {
      i++;
      continue;
    }
    // token up to '='
    const keyStart = i;
    while (i < n) {
      c = header.charCodeAt(i);
      if (c === 0x3d /* = */ || c === 0x2c || c === 0x3b) break;
      i++;
    }
    if (i >= n || header.charCodeAt(i) !== 0x3d) {
      // a pair without '=': malformed, skip it
      continue;
    }
    const key = header.slice(keyStart, i).trim().toLowerCase();
    i++; // past '='
    let value: string | undefined;
    if (i < n && header.charCodeAt(i) === 0x22 /* " */) {
      i++;
      let out = '';
      let closed = false;
      while (i < n) {
        c = header.charCodeAt(i);
        if (c === 0x5c /* \ */ && i + 1 < n) {
          out += header[i + 1];
          i += 2;
          continue;
        }
        if (c === 0x22) {
          closed = true;
          i++;
          break;
        }
        out += header[i];
        i++;
      }
      // An unterminated quoted string swallows the rest of the header: treat it as malformed.
      value = closed ? out : undefined;
      // skip any garbage after the closing quote up to the next separator
      while (i < n) {
        c = header.charCodeAt(i);
        if (c === 0x2c || c === 0x3b) break;
        i++;
      }
    } else {
      const valueStart = i;
      while (i < n) {
        c = header.charCodeAt(i);
        if (c === 0x2c || c === 0x3b) break;
        i++;
      }
      value = header.slice(valueStart, i).trim();
    }
    if (value === undefined || value === '') continue;
    if (key === 'host' || key === 'proto' || key === 'for') {
      info ??= {};
      if (info[key] === undefined) info[key] = value;
    }
  }
  return info;
}

/** A parsed `host[:port]`. */
export interface HostPort {
  address: string;
  port: number | undefined;
}

/** An RFC 3986 reg-name / IPv4 address: unreserved, pct-encoded and sub-delims characters only (ASCII; IDNs travel as punycode). */
const HOST_NAME = /^[A-Za-z0-9\-._~%!$&'()*+,;=]+$/;
/** An IPv6 literal, possibly with an IPv4 tail (`::ffff:1.2.3.4`) or a zone (`fe80::1%eth0`). */
const IPV6 = /^[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*(%[A-Za-z0-9._~-]+)?$/;

/**
 * Parse an authority (`Host`, `:authority`, `X-Forwarded-Host`, `Forwarded host=`): `example.com`,
 * `example.com:8080`, `[::1]:8080`, `[::1]`. IPv6 literals are returned without brackets. Returns
 * undefined for anything malformed (bad port, unbalanced brackets, characters no host can contain)
 * so the caller falls back to the next source.
 */
export function parseHostPort(raw: string): HostPort | undefined {
  const value = raw.trim();
  if (value === '' || value.length > MAX_HOST_LENGTH) return undefined;
  let address: string;
  let portText: string | undefined;
  if (value.charCodeAt(0) === 0x5b /* [ */) {
    const close = value.indexOf(']');
    if (close === -1) return undefined;
    address = value.slice(1, close);
    const rest = value.slice(close + 1);
    if (rest !== '') {
      if (rest.charCodeAt(0) !== 0x3a /* : */) return undefined;
      portText = rest.slice(1);
    }
    if (!IPV6.test(address)) return undefined;
  } else {
    const colon = value.indexOf(':');
    if (colon !== -1 && value.indexOf(':', colon + 1) !== -1) {
      // Several colons without brackets: a bare IPv6 literal (not valid in Host, but seen in
      // hand-written proxies). Keep it as an address, with no port.
      if (!IPV6.test(value)) return undefined;
      return { address: value, port: undefined };
    }
    address = colon === -1 ? value : value.slice(0, colon);
    if (colon !== -1) portText = value.slice(colon + 1);
    if (address === '' || !HOST_NAME.test(address)) return undefined;
  }
  let port: number | undefined;
  if (portText !== undefined) {
    // An empty port (`host:`) is allowed by RFC 3986 and means the default.
    if (portText !== '') {
      if (portText.length > 5 || !/^[0-9]+$/.test(portText)) return undefined;
      port = Number(portText);
      if (port < 1 || port > 65535) return undefined;
    }
  }
  return { address, port };
}

/**
 * A client address from a `Forwarded for=` value or an `X-Forwarded-For` hop: quotes, IPv6 brackets
 * and a trailing port are removed. `unknown` (RFC 7239 section 6.2) and malformed values give
 * undefined. Obfuscated identifiers (`_hidden`, section 6.3) are returned as sent: they are what the
 * proxy chose to disclose.
 */
export function parseClientAddress(raw: string): string | undefined {
  const value = raw.trim();
  if (value === '' || value.length > MAX_HOST_LENGTH) return undefined;
  if (value.toLowerCase() === 'unknown') return undefined;
  if (value.charCodeAt(0) === 0x5b /* [ */) {
    const close = value.indexOf(']');
    if (close <= 1) return undefined;
    const addr = value.slice(1, close);
    return IPV6.test(addr) ? addr : undefined;
  }
  const colon = value.indexOf(':');
  // Several colons: a bare IPv6 address (kept whole); one: `ipv4:port` or `name:port`.
  if (colon !== -1 && value.indexOf(':', colon + 1) !== -1) return IPV6.test(value) ? value : undefined;
  const addr = colon === -1 ? value : value.slice(0, colon);
  if (addr === '' || !HOST_NAME.test(addr)) return undefined;
  return addr;
}

/**
 * A scheme from `Forwarded proto=` or `X-Forwarded-Proto`, lowercased. An HTTP server only serves
 * `http` and `https`; anything else is a misconfigured or spoofed header and is ignored (so
 * `server.port` can always default from the scheme).
 */
export function parseScheme(raw: string): 'http' | 'https' | undefined {
  const value = raw.trim().toLowerCase();
  return value === 'http' || value === 'https' ? value : undefined;
}

/** Default port of a scheme (RFC 9110 4.2), for `server.port` when the authority carries none. */
export function defaultPort(scheme: 'http' | 'https'): number {
  return scheme === 'https' ? 443 : 80;
}

/**
 * `url.query` without the `?`, with the values of sensitive keys replaced by `REDACTED` (key kept).
 * Keys are compared as sent and, when they contain `%`, percent-decoded too, so `X%2DAmz%2DSignature`
 * is caught. Returns the input unchanged (no allocation) when nothing needs redacting.
 */
export function redactQuery(query: string, keys: ReadonlySet<string>): string {
  if (keys.size === 0 || !query.includes('=')) return query;
  const pairs = query.split('&');
  let changed = false;
  for (let i = 0; i < pairs.length; i++) {
    const pair = pairs[i] as string;
    const eq = pair.indexOf('=');
    if (eq <= 0) continue;
    const key = pair.slice(0, eq);
    if (isSensitiveKey(key, keys)) {
      pairs[i] = `${key}=REDACTED`;
      changed = true;
    }
  }
  return changed ? pairs.join('&') : query;
}

function isSensitiveKey(key: string, keys: ReadonlySet<string>): boolean {
  if (keys.has(key)) return true;
  if (key.includes('%') || key.includes('+')) {
    try {
      return keys.has(decodeURIComponent(key.replace(/\+/g, ' ')));
    } catch {
      return false;
    }
  }
  return false;
}

/**
 * Values of the requested headers as string arrays (semconv: `http.request.header.<key>` is a
 * string[] with one item per header line), read from `rawHeaders` so repeated headers stay apart.
 * `wanted` maps a lowercased header name to its attribute key.
 */
export function captureRawHeaders(
  rawHeaders: readonly string[],
  wanted: ReadonlyMap<string, string>,
  into: Attributes,
): void {
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i];
    const value = rawHeaders[i + 1];
    if (typeof name !== 'string' || typeof value !== 'string') continue;
    const key = wanted.get(name.toLowerCase());
    if (key === undefined) continue;
    const prev = into[key];
    if (Array.isArray(prev)) (prev as string[]).push(value);
    else into[key] = [value];
  }
}

/** A response header value (`res.getHeader`) as a string array, or undefined when unset. */
export function responseHeaderValues(value: unknown): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (Array.isArray(value)) return value.map(String);
  if (typeof value === 'string' || typeof value === 'number') return [String(value)];
  return undefined;
}

/** The environment variable that replaces the list of known methods (semconv `http.request.method`). */
export const KNOWN_METHODS_ENV = 'OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS';

/** RFC 9110 token characters, for header names and methods. */
export const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * semconv `http.request.method`: the known methods, replaced entirely (not extended) by
 * `OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS`, a comma-separated, case-sensitive list. Invalid entries
 * are warned about and ignored; a list with no valid entry leaves the default.
 */
export function knownMethodsFromEnv(): ReadonlySet<string> {
  const raw = envString(KNOWN_METHODS_ENV);
  if (raw === undefined) return DEFAULT_SET;
  const out = new Set<string>();
  for (const item of raw.split(',')) {
    const m = item.trim();
    if (m === '') continue;
    if (TOKEN.test(m)) out.add(m);
    else
      report(
        `env:${KNOWN_METHODS_ENV}`,
        `${KNOWN_METHODS_ENV} contains "${m}", which is not an HTTP method; ignoring it`,
      );
  }
  if (out.size === 0) {
    report(
      `env:${KNOWN_METHODS_ENV}:empty`,
      `${KNOWN_METHODS_ENV}="${raw}" lists no valid method; using the defaults`,
    );
    return DEFAULT_SET;
  }
  return out;
}

const DEFAULT_SET: ReadonlySet<string> = new Set(DEFAULT_KNOWN_METHODS);

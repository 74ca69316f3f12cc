/**
 * Where an outgoing request goes, computed once per origin and cached (bounded): `server.address`,
 * `server.port`, the scheme, and whether the host is "internal" (the default `propagateTo`).
 * Pure helpers; nothing here throws on malformed input.
 */

/** One origin as the semantic conventions want it (semconv `docs/http/http-spans.md`, HTTP client). */
export interface Target {
  /** `http` or `https` (lowercase, without `:`). */
  readonly scheme: string;
  /** `server.address`: the host as requested (an IP stays an IP: semconv says no DNS lookup), without IPv6 brackets. */
  readonly address: string;
  /** `server.port`: explicit, or the scheme's default. */
  readonly port: number;
  /** `scheme://host[:port]` as it starts `url.full` (default port omitted, IPv6 in brackets). */
  readonly prefix: string;
  /** Whether the host is a loopback, private-network or internal name (see `isInternalHost`). */
  readonly internal: boolean;
  /**
   * Cached results of the origin-only part of `propagateTo` / `ignore` (host patterns,
   * `<internal>`, origin-only URL prefixes); undefined until first computed.
   */
  propagateHit?: boolean;
  ignoreHit?: boolean;
  /** The "not sending trace context to ..." note was logged for this origin. */
  noPropagateReported?: boolean;
}

/** The scheme's default port, or undefined for a scheme HTTP clients do not use. */
export function defaultPortOf(scheme: string): number | undefined {
  return scheme === 'https' ? 443 : scheme === 'http' ? 80 : undefined;
}

/** `scheme://host[:port]` with the default port left out and IPv6 literals bracketed. */
export function originPrefix(scheme: string, address: string, port: number): string {
  const host = address.includes(':') ? `[${address}]` : address;
  return port === defaultPortOf(scheme) ? `${scheme}://${host}` : `${scheme}://${host}:${port}`;
}

/** A bounded cache: when full it is cleared (origins are few; a scan of many is an attack or a bug). */
export class BoundedCache<V> {
  private readonly map = new Map<string, V>();
  constructor(private readonly max: number) {}
  get(key: string): V | undefined {
    return this.map.get(key);
  }
  set(key: string, value: V): void {
    if (this.map.size >= this.max) this.map.clear();
    this.map.set(key, value);
  }
  get size(): number {
    return this.map.size;
  }
}

/** Longest host name worth looking at (RFC 1035: 253 octets, plus slack for brackets). */
const MAX_HOST = 300;

/**
 * Parse an origin string as undici reports it (`http://127.0.0.1:3000`, `https://[::1]`,
 * `https://api.example.com`), without `new URL` (hot path). Credentials, if a caller put any in
 * the origin, are dropped (semconv `url.full`: "MUST NOT contain credentials"). Returns undefined
 * for anything that is not an http(s) origin.
 */
export function parseOrigin(origin: string): { scheme: string; address: string; port: number } | undefined {
  const sep = origin.indexOf('://');
  if (sep <= 0) return undefined;
  const scheme = origin.slice(0, sep).toLowerCase();
  const dflt = defaultPortOf(scheme);
  if (dflt === undefined) return undefined;
  let rest = origin.slice(sep + 3);
  const slash = rest.search(/[/?#]/);
  if (slash !== -1) rest = rest.slice(0, slash);
  const at = rest.lastIndexOf('@');
  if (at !== -1) rest = rest.slice(at + 1);
  if (rest === '' || rest.length > MAX_HOST) return undefined;
  return splitHostPort(scheme, rest, dflt);
}

/** Split `host[:port]` / `[v6][:port]`; a port that is not 1–65535 makes the whole thing invalid. */
export function splitHostPort(
  scheme: string,
  hostPort: string,
  dflt: number,
): { scheme: string; address: string; port: number } | undefined {
  let address: string;
  let portText: string | undefined;
  if (hostPort.startsWith('[')) {
    const close = hostPort.indexOf(']');
    if (close === -1) return undefined;
    address = hostPort.slice(1, close);
    const after = hostPort.slice(close + 1);
    if (after !== '') {
      if (!after.startsWith(':')) return undefined;
      portText = after.slice(1);
    }
  } else {
    const colon = hostPort.lastIndexOf(':');
    // More than one colon without brackets: a bare IPv6 literal (node:http's `host` can be one).
    if (colon !== -1 && hostPort.indexOf(':') === colon) {
      address = hostPort.slice(0, colon);
      portText = hostPort.slice(colon + 1);
    } else {
      address = hostPort;
    }
  }
  if (address === '') return undefined;
  let port = dflt;
  if (portText !== undefined && portText !== '') {
    if (!/^\d{1,5}$/.test(portText)) return undefined;
    port = Number(portText);
    if (port < 1 || port > 65535) return undefined;
  }
  return { scheme, address: address.toLowerCase(), port };
}

/**
 * Suffixes of names that only resolve inside a private network: mDNS `.local` (RFC 6762, which
 * also covers Kubernetes' `.cluster.local`), `.localhost` (RFC 6761), `.internal` (reserved by
 * ICANN for private use in 2024; also GCP and Docker's `host.docker.internal`), `.home.arpa`
 * (RFC 8375), Kubernetes' short `.svc`, and the private-use names RFC 6762 Appendix G lists.
 */
const INTERNAL_SUFFIXES = [
  '.local',
  '.localhost',
  '.internal',
  '.home.arpa',
  '.svc',
  '.lan',
  '.intranet',
  '.private',
  '.corp',
  '.home',
];

/**
 * Whether a host is internal: `localhost`, a single-label name (a Docker Compose or Kubernetes
 * service name such as `users`), a name under one of `INTERNAL_SUFFIXES`, an IPv4 loopback or
 * private address (127/8, 10/8, 172.16/12, 192.168/16, 100.64/10 shared address space used by
 * overlay networks), or IPv6 loopback `::1` / unique local `fc00::/7`. Link-local addresses
 * (169.254/16, where cloud metadata services live, and fe80::/10) are NOT internal services.
 */
export function isInternalHost(host: string): boolean {
  let h = host.toLowerCase();
  if (h.endsWith('.')) h = h.slice(0, -1);
  if (h === '' || h === 'localhost') return true;
  const v4 = parseIPv4(h);
  if (v4 !== undefined) {
    const [a, b] = v4;
    return (
      a === 127 ||
      a === 10 ||
      (a === 172 && b >= 16 && b <= 31) ||
      (a === 192 && b === 168) ||
      (a === 100 && b >= 64 && b <= 127)
    );
  }
  if (h.includes(':')) {
    // IPv6 literal (brackets already removed). Loopback, unique local fc00::/7, IPv4-mapped private.
    if (h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
    if (/^f[cd][0-9a-f]{0,2}:/.test(h)) return true;
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(h);
    return mapped !== null && isInternalHost(mapped[1] as string);
  }
  if (!h.includes('.')) return true;
  for (const s of INTERNAL_SUFFIXES) if (h.endsWith(s)) return true;
  return false;
}

function parseIPv4(h: string): [number, number] | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(h);
  if (m === null) return undefined;
  const a = Number(m[1]);
  const b = Number(m[2]);
  if (a > 255 || b > 255 || Number(m[3]) > 255 || Number(m[4]) > 255) return undefined;
  return [a, b];
}

/**
 * OTLP/HTTP trace exporter (OTLP specification `specification/protocol/exporter.md` and
 * opentelemetry-proto `docs/specification.md`, "OTLP/HTTP"). Configuration follows
 * `configuration/sdk-environment-variables.md`: options in code win over
 * `OTEL_EXPORTER_OTLP_TRACES_*`, which win over `OTEL_EXPORTER_OTLP_*`, which win over defaults.
 *
 * Delivery rules (SPEC.md §1):
 * - retry only on 429, 502, 503, 504 and network errors, with exponential backoff and full jitter,
 *   honouring `Retry-After` (seconds or HTTP date), never past the export deadline
 *   (`timeoutMillis` covers the whole export, retries included); every other status is final;
 * - 200 with `partial_success` is not retried; `rejected_spans` and the message go to `diag`;
 * - never an empty request; requests over 64 MiB before compression are split (a single span
 *   that large is dropped and counted); responses are read up to 4 MiB;
 * - the exporter's own requests run with tracing suppressed, so they are never traced.
 */
import { readFileSync } from 'node:fs';
import { validateHeaderName, validateHeaderValue } from 'node:http';
import { gzip } from 'node:zlib';
import { context } from '../api.js';
import { envEnum, envKeyValueList, envNumber, envString } from '../sdk/env.js';
import { report } from '../sdk/report.js';
import { type ExportResult, ExportResultCode, type ReadableSpan, type SpanExporter } from '../sdk/types.js';
import { Http1Client } from './http1-client.js';
import { decodePartialSuccessJson, encodeTraceRequestJson } from './otlp-json.js';
import {
  decodePartialSuccess,
  encodeTraceRequestFromRecords,
  encodeTraceRequestView,
  type SpanRecords,
} from './otlp-proto.js';
import { suppressTracing } from './suppress.js';
import { SDK_VERSION } from '../sdk/version.js';

type Env = Record<string, string | undefined>;

/** Options of {@link OtlpHttpExporter}. Each names the variable that sets it when not given. */
export interface OtlpHttpExporterOptions {
  /**
   * Full URL spans are POSTed to. `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (used as is), else
   * `OTEL_EXPORTER_OTLP_ENDPOINT` + `/v1/traces`; default `http://localhost:4318/v1/traces`.
   */
  url?: string | undefined;
  /** Extra request headers; merged over `OTEL_EXPORTER_OTLP_HEADERS` and `OTEL_EXPORTER_OTLP_TRACES_HEADERS`. */
  headers?: Record<string, string>;
  /** `OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL`; default `'http/protobuf'`. */
  protocol?: 'http/protobuf' | 'http/json';
  /** `OTEL_EXPORTER_OTLP_[TRACES_]COMPRESSION`; default `'none'`. */
  compression?: 'gzip' | 'none';
  /** Deadline of one export, retries included, in ms. `OTEL_EXPORTER_OTLP_[TRACES_]TIMEOUT`; default 10000. */
  timeoutMillis?: number;
  /** Trusted CA certificate(s), PEM. Else `caFile`, else `OTEL_EXPORTER_OTLP_[TRACES_]CERTIFICATE` (a path). */
  ca?: string | Buffer;
  /** Client certificate for mTLS, PEM. Else `certFile`, else `OTEL_EXPORTER_OTLP_[TRACES_]CLIENT_CERTIFICATE`. */
  cert?: string | Buffer;
  /** Client private key for mTLS, PEM. Else `keyFile`, else `OTEL_EXPORTER_OTLP_[TRACES_]CLIENT_KEY`. */
  key?: string | Buffer;
  /** Path of a PEM file with trusted CA certificate(s). */
  caFile?: string;
  /** Path of a PEM file with the client certificate (mTLS). */
  certFile?: string;
  /** Path of a PEM file with the client private key (mTLS). */
  keyFile?: string;
  /** Largest request body before compression, in bytes; bigger batches are split. Default 64 MiB. */
  maxRequestBytes?: number;
  /** Environment to read `OTEL_EXPORTER_OTLP_*` from; defaults to `process.env`. */
  env?: Env;
}

/** Counters of {@link OtlpHttpExporter}. */
export interface OtlpHttpExporterStats {
  /** HTTP requests sent, retries included. */
  requests: number;
  /** Retries after a retryable status or network error. */
  retries: number;
  /** Spans the collector accepted (rejected ones of a partial success excluded). */
  exportedSpans: number;
  /** Spans in exports that failed. */
  failedSpans: number;
  /** Spans the collector rejected in a `partial_success`. */
  rejectedSpans: number;
  /** Single spans larger than the request cap, dropped. */
  oversizedSpans: number;
}

/**
 * An ExportResult with tracewire's per-span breakdown, so a processor can count exactly when part
 * of a batch was delivered (split requests, partial success, oversized spans).
 */
export interface CountedExportResult extends ExportResult {
  spans?: { exported: number; failed: number };
}

/**
 * Internal: the method through which `BatchSpanProcessor` hands over spans it encoded when they
 * ended (`SpanRecords`) instead of `ReadableSpan`s. A module-local symbol, so only a processor from
 * the same copy of this module uses it (a CJS processor with an ESM exporter falls back to spans).
 */
export const exportRecords: unique symbol = Symbol('tracewire.exportRecords');

/** One request's worth of spans: span objects, or a range of pre-encoded records. */
type Part = ReadableSpan[] | { records: SpanRecords; from: number; to: number };

const DEFAULT_ENDPOINT = 'http://localhost:4318/';
const MAX_REQUEST_BYTES = 64 * 1024 * 1024;
const MAX_RESPONSE_BYTES = 4 * 1024 * 1024;
const POOL_SIZE = 4;
const POOL_MAX_BYTES = 8 * 1024 * 1024;
const INITIAL_BACKOFF_MS = 250;
const MAX_BACKOFF_MS = 5000;
const RETRYABLE_STATUS = new Set([429, 502, 503, 504]);
const USER_AGENT = `tracewire-otlp-exporter/${SDK_VERSION}`;
/** Headers the exporter sets itself; user values for these are ignored. */
const RESERVED_HEADERS = new Set(['content-type', 'content-length', 'content-encoding', 'transfer-encoding']);

function fail(option: string, expected: string, got: unknown): never {
  throw new TypeError(
    `OtlpHttpExporter: options.${option} must be ${expected}, got ${typeof got === 'string' ? JSON.stringify(got) : typeof got}`,
  );
}

/** Base URL + `v1/traces`, keeping the base's path (`http://c:4318/x/` → `http://c:4318/x/v1/traces`). */
export function tracesUrlFromBase(base: string): string {
  const u = new URL(base);
  u.pathname = `${u.pathname.endsWith('/') ? u.pathname : `${u.pathname}/`}v1/traces`;
  return u.toString();
}

function parseHttpUrl(raw: string): URL | undefined {
  try {
    const u = new URL(raw);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u : undefined;
  } catch {
    return undefined;
  }
}

function resolveUrl(option: string | undefined, env: Env): URL {
  if (option !== undefined) {
    const u = typeof option === 'string' ? parseHttpUrl(option) : undefined;
    if (!u) fail('url', 'an absolute http:// or https:// URL', option);
    return u;
  }
  const traces = envString('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', env);
  if (traces !== undefined) {
    // Signal-specific endpoint: used as is; an empty path means "/" (URL does that).
    const u = parseHttpUrl(traces);
    if (u) return u;
    report(
      'otlp:env-url',
      `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT="${traces}" is not an http(s) URL; ignoring it`,
    );
  }
  const base = envString('OTEL_EXPORTER_OTLP_ENDPOINT', env);
  if (base !== undefined) {
    const u = parseHttpUrl(base);
    if (u) return new URL(tracesUrlFromBase(u.toString()));
    report('otlp:env-url', `OTEL_EXPORTER_OTLP_ENDPOINT="${base}" is not an http(s) URL; ignoring it`);
  }
  return new URL(tracesUrlFromBase(DEFAULT_ENDPOINT));
}

/** A PEM from code (contents or file) or from an env variable holding a path. */
function resolvePem(
  contents: string | Buffer | undefined,
  file: string | undefined,
  names: { option: string; fileOption: string; envTraces: string; envGeneric: string },
  env: Env,
): string | Buffer | undefined {
  if (contents !== undefined) {
    if (typeof contents !== 'string' && !Buffer.isBuffer(contents))
      fail(names.option, 'a PEM string or Buffer', contents);
    return contents;
  }
  if (file !== undefined) {
    if (typeof file !== 'string' || file === '') fail(names.fileOption, 'a file path', file);
    try {
      return readFileSync(file);
    } catch (err) {
      throw new TypeError(
        `OtlpHttpExporter: options.${names.fileOption} could not be read (${file}): ${(err as Error).message}`,
      );
    }
  }
  const name = envString(names.envTraces, env) !== undefined ? names.envTraces : names.envGeneric;
  const path = envString(name, env);
  if (path === undefined) return undefined;
  try {
    return readFileSync(path);
  } catch (err) {
    report(
      `otlp:env-pem:${name}`,
      `${name}="${path}" could not be read (${(err as Error).message}); ignoring it`,
    );
    return undefined;
  }
}

/** Normalised settings, computed once at creation. */
interface Settings {
  url: URL;
  headers: Record<string, string>;
  json: boolean;
  gzip: boolean;
  timeoutMillis: number;
  maxRequestBytes: number;
}

/** A request body in a pooled buffer, and whether a request may still be reading it. */
interface TrackedBody {
  bytes: Buffer;
  inUse: boolean;
}

type Attempt =
  | {
      kind: 'response';
      status: number;
      headers: Record<string, string>;
      body: Buffer;
      truncated: boolean;
    }
  | { kind: 'network'; error: Error; retryable: boolean }
  | { kind: 'timeout' };

/** Network errors that say nothing will change by retrying (TLS and certificate problems). */
function isPermanentNetworkError(err: Error & { code?: string }): boolean {
  const code = err.code ?? '';
  return (
    code.startsWith('ERR_TLS') ||
    code.startsWith('CERT_') ||
    code.includes('SELF_SIGNED') ||
    code.startsWith('UNABLE_TO_') ||
    code === 'ERR_SSL_WRONG_VERSION_NUMBER' ||
    code === 'EPROTO' ||
    code === 'ERR_INVALID_URL'
  );
}

/** `Retry-After` (RFC 9110 §10.2.3): delay-seconds or an HTTP-date; undefined when absent or bad. */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined) return undefined;
  const t = v.trim();
  if (/^\d+$/.test(t)) return Number(t) * 1000;
  const date = Date.parse(t);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

const sleep = (ms: number) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    t.unref?.();
  });

/**
 * Sends spans to an OTLP/HTTP endpoint (protobuf by default, or JSON), with gzip, TLS/mTLS,
 * retries and a deadline per export. Implements the official `SpanExporter` interface, so it also
 * works with the official SDK's processors.
 *
 * @example
 * ```ts
 * import { BatchSpanProcessor, OtlpHttpExporter } from '@tracewire/core';
 * const exporter = new OtlpHttpExporter({
 *   url: 'https://collector.example.com:4318/v1/traces',
 *   headers: { authorization: `Bearer ${process.env.TOKEN}` },
 *   compression: 'gzip',
 * });
 * const processor = new BatchSpanProcessor(exporter);
 * ```
 */
export class OtlpHttpExporter implements SpanExporter {
  readonly #s: Settings;
  readonly #client: Http1Client;
  /** The request head up to (not including) `content-length`: request line, host, headers. */
  readonly #head: string;
  readonly #inFlight = new Set<Promise<void>>();
  #shutdown: Promise<void> | undefined;
  readonly #stats: OtlpHttpExporterStats = {
    requests: 0,
    retries: 0,
    exportedSpans: 0,
    failedSpans: 0,
    rejectedSpans: 0,
    oversizedSpans: 0,
  };

  constructor(options: OtlpHttpExporterOptions = {}) {
    if (options === null || typeof options !== 'object')
      throw new TypeError('OtlpHttpExporter: options must be an object');
    const env = options.env ?? (globalThis as { process?: { env?: Env } }).process?.env ?? {};
    const url = resolveUrl(options.url, env);

    const protocolEnv = (name: string) => envEnum(name, ['http/protobuf', 'http/json', 'grpc'] as const, env);
    let protocol = options.protocol;
    if (protocol !== undefined && protocol !== 'http/protobuf' && protocol !== 'http/json') {
      fail('protocol', "'http/protobuf' or 'http/json'", protocol);
    }
    if (protocol === undefined) {
      const p =
        protocolEnv('OTEL_EXPORTER_OTLP_TRACES_PROTOCOL') ?? protocolEnv('OTEL_EXPORTER_OTLP_PROTOCOL');
      if (p === 'grpc')
        report('otlp:grpc', 'OTLP protocol "grpc" is not supported by tracewire; using http/protobuf');
      else protocol = p;
    }

    let compression = options.compression;
    if (compression !== undefined && compression !== 'gzip' && compression !== 'none') {
      fail('compression', "'gzip' or 'none'", compression);
    }
    compression ??=
      envEnum('OTEL_EXPORTER_OTLP_TRACES_COMPRESSION', ['gzip', 'none'] as const, env) ??
      envEnum('OTEL_EXPORTER_OTLP_COMPRESSION', ['gzip', 'none'] as const, env) ??
      'none';

    const t = options.timeoutMillis;
    if (t !== undefined && (typeof t !== 'number' || !Number.isFinite(t) || t <= 0)) {
      fail('timeoutMillis', 'a positive number of milliseconds', t);
    }
    const timeoutMillis =
      t ??
      envNumber('OTEL_EXPORTER_OTLP_TRACES_TIMEOUT', env, { min: 1 }) ??
      envNumber('OTEL_EXPORTER_OTLP_TIMEOUT', env, { min: 1 }) ??
      10_000;

    const maxRequestBytes = options.maxRequestBytes ?? MAX_REQUEST_BYTES;
    if (!Number.isInteger(maxRequestBytes) || maxRequestBytes < 1024) {
      fail('maxRequestBytes', 'an integer ≥ 1024', maxRequestBytes);
    }

    if (options.headers !== undefined && (options.headers === null || typeof options.headers !== 'object')) {
      fail('headers', 'an object of header names to string values', options.headers);
    }
    // Header names are case-insensitive: later sources replace earlier ones whatever their case.
    const headers: Record<string, string> = {};
    const addHeaders = (src: Record<string, string> | undefined, fromCode: boolean) => {
      if (!src) return;
      for (const [k, v] of Object.entries(src)) {
        if (fromCode && typeof v !== 'string') fail(`headers["${k}"]`, 'a string', v);
        const name = k.toLowerCase();
        if (RESERVED_HEADERS.has(name)) continue;
        // An invalid name or value would make every request throw: refuse it now, once.
        try {
          validateHeaderName(name);
          validateHeaderValue(name, String(v));
        } catch (err) {
          if (fromCode) {
            throw new TypeError(
              `OtlpHttpExporter: options.headers["${k}"] is not a valid HTTP header: ${(err as Error).message}`,
            );
          }
          report('otlp:env-header', `OTLP header "${k}" from the environment is not valid HTTP; ignoring it`);
          continue;
        }
        headers[name] = String(v);
      }
    };
    addHeaders(envKeyValueList('OTEL_EXPORTER_OTLP_HEADERS', env), false);
    addHeaders(envKeyValueList('OTEL_EXPORTER_OTLP_TRACES_HEADERS', env), false);
    addHeaders(options.headers, true);
    headers['user-agent'] ??= USER_AGENT;

    const pem = (
      contents: string | Buffer | undefined,
      file: string | undefined,
      option: string,
      envSuffix: string,
    ) =>
      resolvePem(
        contents,
        file,
        {
          option,
          fileOption: `${option}File`,
          envTraces: `OTEL_EXPORTER_OTLP_TRACES_${envSuffix}`,
          envGeneric: `OTEL_EXPORTER_OTLP_${envSuffix}`,
        },
        env,
      );
    const ca = pem(options.ca, options.caFile, 'ca', 'CERTIFICATE');
    const cert = pem(options.cert, options.certFile, 'cert', 'CLIENT_CERTIFICATE');
    const key = pem(options.key, options.keyFile, 'key', 'CLIENT_KEY');
    if (
      (cert === undefined) !== (key === undefined) &&
      (options.cert || options.certFile || options.key || options.keyFile)
    ) {
      throw new TypeError('OtlpHttpExporter: options.cert and options.key must be given together (mTLS)');
    }

    // Keep-alive: one TCP (and TLS) handshake for many exports. A few sockets suffice: the batch
    // processor runs at most a couple of exports at once. (Not node:http: see http1-client.ts.)
    this.#client = new Http1Client(url, {
      maxSockets: 8,
      maxResponseBytes: MAX_RESPONSE_BYTES,
      tls: {
        ...(ca !== undefined ? { ca } : {}),
        ...(cert !== undefined && key !== undefined ? { cert, key } : {}),
      },
      // The exporter's own connections must never be traced (net-level instrumentations check this).
      around: (fn) => context.with(suppressTracing(context.active()), fn),
    });
    this.#s = {
      url,
      headers,
      json: protocol === 'http/json',
      gzip: compression === 'gzip',
      timeoutMillis,
      maxRequestBytes,
    };
    this.#head = requestHead(this.#s);
  }

  /** The URL spans are sent to. */
  get url(): string {
    return this.#s.url.toString();
  }

  /** The effective protocol, compression, timeout and headers (values of auth headers included: handle with care). */
  get settings(): {
    url: string;
    protocol: 'http/protobuf' | 'http/json';
    compression: 'gzip' | 'none';
    timeoutMillis: number;
    headers: Readonly<Record<string, string>>;
  } {
    const s = this.#s;
    return {
      url: s.url.toString(),
      protocol: s.json ? 'http/json' : 'http/protobuf',
      compression: s.gzip ? 'gzip' : 'none',
      timeoutMillis: s.timeoutMillis,
      headers: { ...s.headers },
    };
  }

  /** A snapshot of the exporter's counters. */
  stats(): OtlpHttpExporterStats {
    return { ...this.#stats };
  }

  /**
   * Internal: whether {@link exportRecords} may be used: protobuf (JSON needs the span objects),
   * and `export()` is this class's own (a subclass that filters or changes spans in its `export()`
   * must see them, so it gets span objects).
   */
  get acceptsRecords(): boolean {
    return !this.#s.json && this.export === OtlpHttpExporter.prototype.export;
  }

  /** Internal: exports spans the batch processor encoded when they ended; as {@link export}. */
  [exportRecords](records: SpanRecords, resultCallback: (result: ExportResult) => void): void {
    this.#start({ records, from: 0, to: records.length }, records.length, resultCallback);
  }

  /** Exports spans; calls back exactly once with the result, never throws. */
  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    this.#start(spans, Array.isArray(spans) ? spans.length : 0, resultCallback);
  }

  #start(first: Part, count: number, resultCallback: (result: ExportResult) => void): void {
    let called = false;
    const done = (r: CountedExportResult) => {
      if (called) return;
      called = true;
      try {
        resultCallback(r);
      } catch (err) {
        report('otlp:callback', `export result callback threw: ${err instanceof Error ? err.message : err}`);
      }
    };
    if (this.#shutdown) {
      done({ code: ExportResultCode.FAILED, error: new Error('OtlpHttpExporter is shut down') });
      return;
    }
    if (count === 0) {
      // Never send an empty request (SPEC.md §1).
      done({ code: ExportResultCode.SUCCESS, spans: { exported: 0, failed: 0 } });
      return;
    }
    const deadline = Date.now() + this.#s.timeoutMillis;
    const p = this.#exportAll(first, deadline).then(done, (err: unknown) => {
      // #exportAll does not reject; this is a last fence so the callback always runs.
      done({ code: ExportResultCode.FAILED, error: err instanceof Error ? err : new Error(String(err)) });
    });
    this.#inFlight.add(p);
    p.finally(() => this.#inFlight.delete(p));
  }

  /** Encode, split while over the cap, send each part; sums what was delivered. */
  async #exportAll(first: Part, deadline: number): Promise<CountedExportResult> {
    const parts: Part[] = [first];
    let exported = 0;
    let failed = 0;
    let firstError: Error | undefined;
    while (parts.length > 0) {
      const part = parts.pop()!;
      const spans = Array.isArray(part) ? part : undefined;
      const partLength =
        spans !== undefined ? spans.length : (part as { to: number }).to - (part as { from: number }).from;
      let body: Uint8Array;
      try {
        // The protobuf view lives in the encoder's reused buffer: it is copied (into a pooled
        // buffer) only once it is known to fit under the cap.
        if (spans === undefined) {
          const r = part as Exclude<Part, ReadableSpan[]>;
          body = encodeTraceRequestFromRecords(r.records, r.from, r.to);
        } else body = this.#s.json ? encodeTraceRequestJson(spans) : encodeTraceRequestView(spans);
      } catch (err) {
        failed += partLength;
        firstError ??= new Error(`OTLP encoding failed: ${err instanceof Error ? err.message : err}`);
        continue;
      }
      if (body.length > this.#s.maxRequestBytes) {
        if (partLength === 1) {
          failed += 1;
          this.#stats.oversizedSpans++;
          firstError ??= new Error(`a span of ${body.length} bytes exceeds the request cap and was dropped`);
          report(
            'otlp:oversized',
            `a span encoded to ${body.length} bytes, over the ${this.#s.maxRequestBytes}-byte request cap; it was dropped`,
          );
          continue;
        }
        // Split in halves; the second half is pushed first so spans keep their order.
        if (spans !== undefined) {
          const mid = spans.length >>> 1;
          parts.push(spans.slice(mid), spans.slice(0, mid));
        } else {
          const r = part as Exclude<Part, ReadableSpan[]>;
          const mid = r.from + (partLength >>> 1);
          parts.push(
            { records: r.records, from: mid, to: r.to },
            { records: r.records, from: r.from, to: mid },
          );
        }
        continue;
      }
      const pooled = this.#takeBuffer(body.length);
      pooled.set(body);
      const tracked: TrackedBody = { bytes: pooled.subarray(0, body.length), inUse: false };
      const r = await this.#send(tracked, partLength, deadline);
      // A request answered or abandoned before its body was flushed may still read the buffer.
      if (!tracked.inUse) this.#releaseBuffer(pooled);
      exported += r.exported;
      failed += partLength - r.exported;
      if (r.error) firstError ??= r.error;
    }
    this.#stats.exportedSpans += exported;
    this.#stats.failedSpans += failed;
    if (failed === 0) return { code: ExportResultCode.SUCCESS, spans: { exported, failed } };
    return {
      code: exported === 0 ? ExportResultCode.FAILED : ExportResultCode.SUCCESS,
      error: firstError ?? new Error(`${failed} spans were not exported`),
      spans: { exported, failed },
    };
  }

  /**
   * Request bodies are copied into a few reused buffers instead of a new one per export: large
   * short-lived buffers are external memory that pushes V8 into extra garbage collections.
   * At most POOL_SIZE buffers of at most POOL_MAX_BYTES each are kept.
   */
  readonly #pool: Buffer[] = [];

  #takeBuffer(size: number): Buffer {
    const pool = this.#pool;
    for (let i = 0; i < pool.length; i++) {
      if (pool[i]!.length >= size) {
        const b = pool[i]!;
        pool[i] = pool[pool.length - 1]!;
        pool.pop();
        return b;
      }
    }
    // Round up so a batch a little larger than the last one reuses the buffer next time.
    return Buffer.allocUnsafeSlow(Math.max(64 * 1024, 2 ** Math.ceil(Math.log2(size))));
  }

  #releaseBuffer(b: Buffer): void {
    if (this.#pool.length < POOL_SIZE && b.length <= POOL_MAX_BYTES) this.#pool.push(b);
  }

  /** One request body through the retry loop; resolves with how many spans were accepted. */
  async #send(
    tracked: TrackedBody,
    spanCount: number,
    deadline: number,
  ): Promise<{ exported: number; error?: Error }> {
    const raw = tracked.bytes;
    let body = raw;
    if (this.#s.gzip) {
      try {
        body = await new Promise<Buffer>((resolve, reject) =>
          gzip(raw, (e, out) => (e ? reject(e) : resolve(out))),
        );
      } catch (err) {
        return { exported: 0, error: new Error(`gzip failed: ${(err as Error).message}`) };
      }
    }
    let lastError: Error | undefined;
    for (let attempt = 0; ; attempt++) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        return { exported: 0, error: deadlineError(this.#s.timeoutMillis, lastError) };
      }
      this.#stats.requests++;
      const a = await this.#attempt(body, remaining, tracked);
      let retryAfter: number | undefined;
      if (a.kind === 'response') {
        if (a.status >= 200 && a.status < 300)
          return this.#accepted(a.body, a.truncated, spanCount, a.headers);
        const error = new Error(`OTLP export failed: HTTP ${a.status}${describeBody(a.body, a.headers)}`);
        if (!RETRYABLE_STATUS.has(a.status)) return { exported: 0, error };
        lastError = error;
        retryAfter = parseRetryAfter(a.headers['retry-after']);
      } else if (a.kind === 'network') {
        lastError = new Error(`OTLP export failed: ${a.error.message}`, { cause: a.error });
        if (!a.retryable) return { exported: 0, error: lastError };
      } else {
        return { exported: 0, error: deadlineError(this.#s.timeoutMillis, lastError) };
      }
      // Exponential backoff with full jitter; Retry-After, when given, replaces it.
      const delay =
        retryAfter ??
        Math.random() * Math.min(MAX_BACKOFF_MS, INITIAL_BACKOFF_MS * 2 ** Math.min(attempt, 16));
      if (Date.now() + delay >= deadline) {
        return {
          exported: 0,
          error: new Error(
            `${lastError?.message ?? 'OTLP export failed'}; not retried: the next attempt (in ${Math.round(delay)} ms) would pass the export deadline`,
            { cause: lastError },
          ),
        };
      }
      this.#stats.retries++;
      await sleep(delay);
    }
  }

  /** 2xx: look for a partial success (rejected spans are counted as not exported). */
  #accepted(
    body: Buffer,
    truncated: boolean,
    spanCount: number,
    headers: Record<string, string>,
  ): { exported: number; error?: Error } {
    if (truncated) {
      report('otlp:response-too-large', `an OTLP response over ${MAX_RESPONSE_BYTES} bytes was not parsed`);
      return { exported: spanCount };
    }
    if (body.length === 0) return { exported: spanCount };
    const ct = String(headers['content-type'] ?? '');
    const ps = ct.includes('json') ? decodePartialSuccessJson(body) : decodePartialSuccess(body);
    if (!ps || (ps.rejectedSpans === 0 && ps.errorMessage === '')) return { exported: spanCount };
    const rejected = Math.min(spanCount, Math.max(0, Math.trunc(ps.rejectedSpans)));
    this.#stats.rejectedSpans += rejected;
    // OTLP: a partial success must not be retried; report it.
    report(
      'otlp:partial-success',
      `the collector rejected ${ps.rejectedSpans} of ${spanCount} spans${ps.errorMessage ? `: ${ps.errorMessage}` : ''}`,
    );
    return {
      exported: spanCount - rejected,
      ...(rejected > 0
        ? { error: new Error(`the collector rejected ${rejected} spans: ${ps.errorMessage || 'no message'}`) }
        : {}),
    };
  }

  /** One HTTP request, bounded by `remaining` ms. Never rejects. */
  #attempt(body: Buffer, remaining: number, tracked: TrackedBody): Promise<Attempt> {
    const head = Buffer.from(`${this.#head}content-length: ${body.length}\r\n\r\n`, 'latin1');
    return new Promise<Attempt>((resolve) => {
      let settled = false;
      // Whether the whole body was handed to the OS; only then may its buffer be reused.
      let flushed = false;
      const settle = (a: Attempt) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (!flushed) tracked.inUse = true;
        resolve(a);
      };
      const req = this.#client.request(head, body, {
        response: (r) =>
          settle({
            kind: 'response',
            status: r.status,
            headers: r.headers,
            body: r.body,
            truncated: r.truncated,
          }),
        error: (error: Error) =>
          settle({ kind: 'network', error, retryable: !isPermanentNetworkError(error) }),
        flushed: () => {
          flushed = true;
        },
      });
      const timer = setTimeout(() => {
        settle({ kind: 'timeout' });
        req.destroy();
      }, remaining);
      timer.unref?.();
    });
  }

  /** Waits for exports in flight. */
  async forceFlush(): Promise<void> {
    await Promise.all([...this.#inFlight]);
  }

  /** Waits for exports in flight, then refuses further exports and closes idle connections. Idempotent. */
  shutdown(): Promise<void> {
    this.#shutdown ??= (async () => {
      await Promise.all([...this.#inFlight]);
      this.#client.destroy();
    })();
    return this.#shutdown;
  }
}

function deadlineError(timeoutMillis: number, last: Error | undefined): Error {
  return new Error(
    `OTLP export did not complete within ${timeoutMillis} ms${last ? ` (last error: ${last.message})` : ''}`,
    { cause: last },
  );
}

/**
 * The fixed part of every request's head: request line, `host` (the URL's, unless a `host` header
 * was configured), basic auth from the URL's user info (unless an `authorization` header was),
 * the configured headers (validated when they were read), content type and encoding.
 */
function requestHead({ url, headers, json, gzip }: Settings): string {
  let head = `POST ${url.pathname}${url.search} HTTP/1.1\r\n`;
  if (headers.host === undefined) head += `host: ${url.host}\r\n`;
  if (url.username !== '' && headers.authorization === undefined) {
    const user = `${decodeUserInfo(url.username)}:${decodeUserInfo(url.password)}`;
    head += `authorization: Basic ${Buffer.from(user).toString('base64')}\r\n`;
  }
  for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`;
  head += `content-type: ${json ? 'application/json' : 'application/x-protobuf'}\r\n`;
  if (gzip) head += 'content-encoding: gzip\r\n';
  return head;
}

function decodeUserInfo(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** A short, printable hint from an error response (text or JSON only; protobuf bodies are skipped). */
function describeBody(body: Buffer, headers: Record<string, string>): string {
  const ct = String(headers['content-type'] ?? '');
  if (body.length === 0 || !(ct.includes('json') || ct.startsWith('text/'))) return '';
  const text = body.subarray(0, 200).toString('utf8').replace(/\s+/g, ' ').trim();
  return text ? `: ${text}` : '';
}

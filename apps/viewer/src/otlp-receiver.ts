/**
 * The OTLP/HTTP trace receiver (opentelemetry-proto `docs/specification.md`, "OTLP/HTTP"):
 * `POST /v1/traces` with a binary protobuf (`application/x-protobuf`) or JSON (`application/json`)
 * `ExportTraceServiceRequest`, optionally `Content-Encoding: gzip`.
 *
 * Answers, per "OTLP/HTTP Response":
 * - 200 with an `ExportTraceServiceResponse` in the request's encoding; `partial_success` with
 *   `rejected_spans` and `error_message` when spans with invalid ids were refused;
 * - 400 with a `google.rpc.Status` for a body that cannot be decoded (not retryable);
 * - 413 when the body, compressed or decompressed, is over the cap; 415 for another content type
 *   or content coding; 405 for another method; 404 for another path;
 * - 429 with `Retry-After` when too many bytes are being received at once (retryable);
 * - 403 for a request from a browser page of another origin: a web page must not be able to
 *   inject spans into a developer's viewer (cross-site request forgery). No CORS headers are ever
 *   sent, so a preflight never succeeds either.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createGunzip } from 'node:zlib';
import { type DecodeLimits, OtlpDecodeError } from './model.js';
import { decodeTraceRequestJson } from './otlp-json-decode.js';
import { decodeTraceRequestProto } from './otlp-proto-decode.js';
import {
  type Encoding,
  encodeExportResponse,
  encodeStatus,
  RPC_INVALID_ARGUMENT,
  RPC_PERMISSION_DENIED,
  RPC_RESOURCE_EXHAUSTED,
  RPC_UNIMPLEMENTED,
} from './otlp-response.js';
import type { TraceStore } from './store.js';

/** Options of {@link createOtlpHandler}. */
export interface OtlpHandlerOptions {
  store: TraceStore;
  /** Largest body accepted, compressed and after decompression, in bytes. */
  maxRequestBytes: number;
  /** Origins allowed to send (the viewer's own); any other `Origin` is refused. */
  allowedOrigins: ReadonlySet<string>;
  /** Most bytes buffered across all requests being received; beyond it answer 429. */
  maxInflightBytes: number;
  decodeLimits?: DecodeLimits;
}

const CONTENT_TYPES: Record<Encoding, string> = {
  protobuf: 'application/x-protobuf',
  json: 'application/json',
};

function mediaType(header: string | undefined): Encoding | undefined {
  if (header === undefined) return undefined;
  const semi = header.indexOf(';');
  const type = (semi === -1 ? header : header.slice(0, semi)).trim().toLowerCase();
  if (type === 'application/x-protobuf' || type === 'application/protobuf') return 'protobuf';
  if (type === 'application/json') return 'json';
  return undefined;
}

class TooLarge extends Error {}

/**
 * A `node:http` request handler for the OTLP/HTTP trace endpoint.
 *
 * @example
 * const handler = createOtlpHandler({ store, maxRequestBytes: 16 << 20, allowedOrigins: new Set(), maxInflightBytes: 64 << 20 });
 * http.createServer(handler).listen(4318, '127.0.0.1');
 */
export function createOtlpHandler(
  options: OtlpHandlerOptions,
): (req: IncomingMessage, res: ServerResponse) => void {
  const { store, maxRequestBytes, allowedOrigins, maxInflightBytes, decodeLimits } = options;
  let inflight = 0;

  function send(
    res: ServerResponse,
    status: number,
    encoding: Encoding,
    body: Buffer,
    headers?: Record<string, string>,
  ): void {
    if (res.headersSent) return;
    res.writeHead(status, {
      'content-type': CONTENT_TYPES[encoding],
      'content-length': String(body.length),
      'x-content-type-options': 'nosniff',
      ...headers,
    });
    res.end(body);
  }

  function fail(
    req: IncomingMessage,
    res: ServerResponse,
    status: number,
    encoding: Encoding,
    code: number,
    message: string,
    headers?: Record<string, string>,
  ): void {
    // Bodies left unread: close the connection instead of reading megabytes we refuse anyway.
    const close = !req.complete;
    send(
      res,
      status,
      encoding,
      encodeStatus(encoding, code, message),
      close ? { connection: 'close', ...headers } : headers,
    );
    if (close) req.resume();
  }

  return function otlpReceiver(req: IncomingMessage, res: ServerResponse): void {
    const encoding = mediaType(req.headers['content-type']);
    const replyEncoding: Encoding = encoding ?? 'json';
    const origin = req.headers.origin;
    const fetchSite = req.headers['sec-fetch-site'];
    if (
      (origin !== undefined && !allowedOrigins.has(origin)) ||
      fetchSite === 'cross-site' ||
      fetchSite === 'same-site'
    ) {
      fail(req, res, 403, replyEncoding, RPC_PERMISSION_DENIED, 'cross-origin requests are not accepted');
      return;
    }
    const path = (req.url ?? '/').split('?', 1)[0];
    if (path !== '/v1/traces') {
      fail(
        req,
        res,
        404,
        replyEncoding,
        RPC_UNIMPLEMENTED,
        'not found: traces are received on POST /v1/traces',
      );
      return;
    }
    if (req.method !== 'POST') {
      fail(req, res, 405, replyEncoding, RPC_UNIMPLEMENTED, 'method not allowed: use POST', {
        allow: 'POST',
      });
      return;
    }
    if (encoding === undefined) {
      fail(
        req,
        res,
        415,
        'json',
        RPC_INVALID_ARGUMENT,
        'unsupported content type: send application/x-protobuf or application/json',
      );
      return;
    }
    const coding = (req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
    if (coding !== 'gzip' && coding !== 'identity' && coding !== '') {
      fail(req, res, 415, encoding, RPC_INVALID_ARGUMENT, `unsupported content encoding: ${coding}`);
      return;
    }
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > maxRequestBytes) {
      fail(req, res, 413, encoding, RPC_RESOURCE_EXHAUSTED, `request body over ${maxRequestBytes} bytes`);
      return;
    }
    if (inflight > maxInflightBytes) {
      fail(req, res, 429, encoding, RPC_RESOURCE_EXHAUSTED, 'receiving too much at once; retry later', {
        'retry-after': '1',
      });
      return;
    }
    readBody(req, coding === 'gzip').then(
      (body) => {
        inflight -= body.reserved;
        handleBody(req, res, encoding, body.data);
      },
      (err: unknown) => {
        if (err instanceof TooLarge) {
          fail(req, res, 413, encoding, RPC_RESOURCE_EXHAUSTED, `request body over ${maxRequestBytes} bytes`);
        } else if (!res.headersSent && !res.destroyed) {
          fail(req, res, 400, encoding, RPC_INVALID_ARGUMENT, `cannot read body: ${(err as Error).message}`);
        }
      },
    );
  };

  function handleBody(req: IncomingMessage, res: ServerResponse, encoding: Encoding, body: Buffer): void {
    let decoded: ReturnType<typeof decodeTraceRequestProto>;
    try {
      decoded =
        encoding === 'protobuf'
          ? decodeTraceRequestProto(body, decodeLimits)
          : decodeTraceRequestJson(JSON.parse(body.toString('utf8')), decodeLimits);
    } catch (err) {
      const tooLarge = err instanceof OtlpDecodeError && err.tooLarge;
      const message = err instanceof Error ? err.message : String(err);
      fail(
        req,
        res,
        tooLarge ? 413 : 400,
        encoding,
        tooLarge ? RPC_RESOURCE_EXHAUSTED : RPC_INVALID_ARGUMENT,
        `malformed ExportTraceServiceRequest: ${message}`.slice(0, 1000),
      );
      return;
    }
    store.add(decoded.spans);
    store.recordRequest(decoded.rejected);
    const message =
      decoded.rejected > 0 ? `${decoded.rejected} span(s) rejected: first one: ${decoded.rejectReason}` : '';
    send(res, 200, encoding, encodeExportResponse(encoding, decoded.rejected, message));
  }

  /**
   * Reads the body up to the cap, counting compressed and decompressed bytes separately; gzip is
   * undone while streaming, so a small "zip bomb" is stopped as soon as it passes the cap.
   */
  function readBody(req: IncomingMessage, gzip: boolean): Promise<{ data: Buffer; reserved: number }> {
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let raw = 0;
      let size = 0;
      let reserved = 0;
      let settled = false;
      const finish = (err: Error | undefined) => {
        if (settled) return;
        settled = true;
        if (err !== undefined) {
          inflight -= reserved;
          reject(err);
        } else resolve({ data: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size), reserved });
      };
      const onData = (chunk: Buffer) => {
        size += chunk.length;
        inflight += chunk.length;
        reserved += chunk.length;
        if (size > maxRequestBytes) {
          finish(new TooLarge());
          return;
        }
        chunks.push(chunk);
      };
      req.on('data', (chunk: Buffer) => {
        raw += chunk.length;
        if (raw > maxRequestBytes) {
          req.pause();
          finish(new TooLarge());
        }
      });
      req.on('error', (err) => finish(err));
      if (!gzip) {
        req.on('data', (chunk: Buffer) => {
          if (!settled) onData(chunk);
        });
        req.on('end', () => finish(undefined));
        return;
      }
      const gunzip = createGunzip();
      gunzip.on('data', (chunk: Buffer) => {
        if (settled) return;
        onData(chunk);
        if (settled) gunzip.destroy();
      });
      gunzip.on('error', (err) => finish(new Error(`invalid gzip: ${err.message}`)));
      gunzip.on('end', () => finish(undefined));
      req.pipe(gunzip);
    });
  }
}

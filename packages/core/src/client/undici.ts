/**
 * undici's diagnostics channels (used by Node's global `fetch`, whose bundled undici shares the
 * channel names with the npm `undici` package, so one subscription covers both):
 * - `undici:request:create`   the request object exists, headers can still be added: start + inject;
 * - `undici:client:sendHeaders` the connection it goes out on (ALPN tells HTTP/2 from HTTP/1.1);
 * - `undici:request:headers`  response status known;
 * - `undici:request:trailers` the response body was fully received: end;
 * - `undici:request:error`    network error, abort, TLS failure: end with ERROR.
 * Channel contract: undici `docs/docs/api/DiagnosticsChannel.md`.
 */
import type { TextMapSetter } from '@opentelemetry/api';
import { report } from '../sdk/report.js';
import {
  beginRequest,
  finishRequest,
  message,
  type RequestState,
  type Runtime,
  responseReceived,
  targetForOrigin,
} from './lifecycle.js';
import { parseOrigin } from './target.js';

/** The parts of undici's `Request` read here (undici ≥ 6: headers is a flat `[name, value, ...]` array; 5: a string). */
interface UndiciRequest {
  origin?: unknown;
  path?: unknown;
  method?: unknown;
  headers?: unknown;
  addHeader?: (name: string, value: string) => unknown;
}

/**
 * Writes one propagation header into an undici request. A header of the same name the caller set
 * (a proxy forwarding incoming headers verbatim) is replaced, not duplicated: two `traceparent`
 * headers make the receiver discard both (W3C Trace Context section 3.2.1).
 */
const undiciSetter: TextMapSetter<UndiciRequest> = {
  set(request, name, value) {
    const headers = request.headers;
    const lower = name.toLowerCase();
    if (Array.isArray(headers)) {
      for (let i = 0; i < headers.length; i += 2) {
        const k = headers[i];
        if (typeof k === 'string' && k.length === lower.length && k.toLowerCase() === lower) {
          headers[i + 1] = value;
          return;
        }
      }
    } else if (typeof headers === 'string' && headers.length > 0) {
      // undici 5 keeps headers as `name: value\r\n` lines.
      const re = new RegExp(`(^|\\r\\n)${name}:[^\\r\\n]*`, 'i');
      if (re.test(headers)) {
        (request as { headers: string }).headers = headers.replace(re, `$1${name}: ${value}`);
        return;
      }
    }
    request.addHeader?.(name, value);
  },
};

export function onUndiciCreate(rt: Runtime, message_: unknown): void {
  try {
    const request = (message_ as { request?: UndiciRequest } | null)?.request;
    if (typeof request !== 'object' || request === null) return;
    const origin = request.origin;
    const path = request.path;
    const method = request.method;
    if (
      typeof path !== 'string' ||
      typeof method !== 'string' ||
      (typeof origin !== 'string' && typeof origin !== 'object')
    )
      return;
    let target = targetForOrigin(rt, typeof origin === 'string' ? origin : String(origin));
    let fullUrl: string;
    if (path.startsWith('/')) {
      if (target === undefined) return;
      fullUrl = target.prefix + path;
    } else {
      // Absolute-form target (a request sent through an HTTP proxy): the URL is the path.
      const abs = parseOrigin(path);
      if (abs === undefined) return;
      target = targetForOrigin(rt, path);
      if (target === undefined) return;
      const rest = path.slice(path.indexOf('://') + 3);
      const slash = rest.search(/[/?#]/);
      fullUrl = target.prefix + (slash === -1 ? '/' : rest.slice(slash));
    }
    beginRequest(
      rt,
      'undici',
      request,
      method,
      target,
      fullUrl,
      typeof request.addHeader === 'function' ? request : undefined,
      undiciSetter,
    );
  } catch (err) {
    report('outgoing:undici:create', `outgoing fetch/undici tracing failed: ${message(err)}`);
  }
}

export function onUndiciSendHeaders(rt: Runtime, message_: unknown): void {
  try {
    const m = message_ as { request?: object; socket?: { alpnProtocol?: unknown } } | null;
    const request = m?.request;
    if (request === undefined) return;
    const st = rt.requests.get(request);
    if (st !== undefined && m?.socket?.alpnProtocol === 'h2') st.h2 = true;
  } catch (err) {
    report('outgoing:undici:sendHeaders', `outgoing fetch/undici tracing failed: ${message(err)}`);
  }
}

export function onUndiciHeaders(rt: Runtime, message_: unknown): void {
  try {
    const m = message_ as { request?: object; response?: { statusCode?: unknown } } | null;
    const request = m?.request;
    if (request === undefined) return;
    const st: RequestState | undefined = rt.requests.get(request);
    if (st === undefined) return;
    const status = m?.response?.statusCode;
    if (typeof status !== 'number') return;
    // undici speaks HTTP/1.1, or HTTP/2 when allowH2 negotiated it (seen in sendHeaders).
    responseReceived(rt, st, status, st.h2 === true ? '2' : '1.1', m?.response);
  } catch (err) {
    report('outgoing:undici:headers', `outgoing fetch/undici tracing failed: ${message(err)}`);
  }
}

export function onUndiciTrailers(rt: Runtime, message_: unknown): void {
  try {
    const request = (message_ as { request?: object } | null)?.request;
    if (request === undefined) return;
    const st = rt.requests.get(request);
    if (st === undefined) return;
    rt.requests.delete(request);
    finishRequest(st);
  } catch (err) {
    report('outgoing:undici:trailers', `outgoing fetch/undici tracing failed: ${message(err)}`);
  }
}

export function onUndiciError(rt: Runtime, message_: unknown): void {
  try {
    const m = message_ as { request?: object; error?: unknown } | null;
    const request = m?.request;
    if (request === undefined) return;
    const st = rt.requests.get(request);
    if (st === undefined) return;
    rt.requests.delete(request);
    finishRequest(st, m?.error ?? new Error('request failed'));
  } catch (err) {
    report('outgoing:undici:error', `outgoing fetch/undici tracing failed: ${message(err)}`);
  }
}

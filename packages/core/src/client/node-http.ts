/**
 * node:http / node:https client channels (axios, got, node-fetch, superagent... all sit on them):
 * - `http.client.request.created` (Node ≥ 22.12 and ≥ 23.2): published from the `ClientRequest`
 *   constructor, before the headers are serialised: start the span and `setHeader` the context.
 * - `http.client.request.start`: published from `ClientRequest#_finish` (after `end()`), when the
 *   headers are already on their way. On Node without `created` (Node 20) this is the first event we
 *   see: the span starts here (timed from `end()`), but no header can be injected any more.
 * - `http.client.response.finish`: the response headers arrived (the body may still stream).
 * - `http.client.request.error`: the request failed (refused, reset, TLS, abort).
 * The span ends when the response body has been read to the end (`close` with `complete`), or
 * with an error. Listening to `close` adds no behaviour: no `error` listener is ever added, so an
 * unhandled request error still surfaces to the application exactly as without tracewire.
 */
import type { TextMapSetter } from '@opentelemetry/api';
import { report } from '../sdk/report.js';
import {
  beginRequest,
  CLIENT_ERROR_TYPE_ABORTED,
  finishRequest,
  makeTarget,
  message,
  type RequestState,
  type Runtime,
  responseReceived,
  targetForOrigin,
} from './lifecycle.js';
import { defaultPortOf, splitHostPort, type Target } from './target.js';

/** The parts of `http.ClientRequest` read here. */
interface ClientRequestLike {
  method?: unknown;
  protocol?: unknown;
  host?: unknown;
  path?: unknown;
  headersSent?: boolean;
  getHeader?: (name: string) => unknown;
  setHeader?: (name: string, value: string) => unknown;
  once?: (event: string, listener: (...args: unknown[]) => void) => unknown;
}

interface IncomingMessageLike {
  statusCode?: unknown;
  httpVersion?: unknown;
  complete?: boolean;
  socket?: { remotePort?: unknown } | null;
  once?: (event: string, listener: () => void) => unknown;
}

/** `setHeader` replaces a header of the same name the caller set: one `traceparent`, ours. */
const httpSetter: TextMapSetter<ClientRequestLike> = {
  set(request, name, value) {
    if (request.headersSent !== true) request.setHeader?.(name, value);
  },
};

/** Requests whose port we could not read from the Host header: corrected from the socket later. */
const uncertainPort = new WeakSet<object>();

interface Resolved {
  target: Target;
  fullUrl: string;
  portKnown: boolean;
}

function resolve(rt: Runtime, request: ClientRequestLike): Resolved | undefined {
  const path = request.path;
  if (typeof path !== 'string') return undefined;
  if (!path.startsWith('/') && /^https?:\/\//i.test(path)) {
    // Absolute-form request target (through an HTTP proxy): the URL is the path.
    const target = targetForOrigin(rt, path);
    if (target === undefined) return undefined;
    const rest = path.slice(path.indexOf('://') + 3);
    const slash = rest.search(/[/?#]/);
    return { target, fullUrl: target.prefix + (slash === -1 ? '/' : rest.slice(slash)), portKnown: true };
  }
  const protocol = request.protocol;
  const host = request.host;
  if (typeof protocol !== 'string' || typeof host !== 'string' || host === '') return undefined;
  const scheme = protocol.endsWith(':') ? protocol.slice(0, -1).toLowerCase() : protocol.toLowerCase();
  const dflt = defaultPortOf(scheme);
  if (dflt === undefined) return undefined;
  const address = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  // Node writes `Host: host[:port]` (port only when not the default) unless the caller set their own
  // Host header; the port is only trusted when the header names the same host.
  let port = dflt;
  let portKnown = false;
  const hostHeader = typeof request.getHeader === 'function' ? request.getHeader('host') : undefined;
  if (typeof hostHeader === 'string') {
    const hp = splitHostPort(scheme, hostHeader, dflt);
    if (hp !== undefined && hp.address === address.toLowerCase()) {
      port = hp.port;
      portKnown = true;
    }
  }
  const key = `${scheme}://${address}:${port}`;
  let target = rt.targets.get(key);
  if (target === undefined) {
    target = makeTarget(scheme, address.toLowerCase(), port);
    rt.targets.set(key, target);
  }
  const p = path.startsWith('/') ? path : `/${path}`;
  return { target, fullUrl: target.prefix + p, portKnown };
}

function begin(rt: Runtime, request: ClientRequestLike, canInject: boolean): RequestState | undefined {
  const method = request.method;
  if (typeof method !== 'string') return undefined;
  const r = resolve(rt, request);
  if (r === undefined) return undefined;
  const st = beginRequest(
    rt,
    'http',
    request,
    method,
    r.target,
    r.fullUrl,
    canInject ? request : undefined,
    canInject ? httpSetter : undefined,
  );
  if (st === undefined) return undefined;
  if (!r.portKnown) uncertainPort.add(request);
  // `close` fires once the request is done or its connection died before a response (Node docs,
  // `http.ClientRequest` event 'close'); it is our backstop when no error channel reports why.
  request.once?.('close', function onOutgoingRequestClose() {
    if (!st.ended && st.statusCode === undefined) {
      rt.requests.delete(request);
      finishRequest(st, undefined, CLIENT_ERROR_TYPE_ABORTED);
    }
  });
  return st;
}

export function onHttpRequestCreated(rt: Runtime, message_: unknown): void {
  try {
    const request = (message_ as { request?: ClientRequestLike } | null)?.request;
    if (typeof request !== 'object' || request === null) return;
    rt.httpCreatedSeen = true;
    // Raw-array headers (`headers: ['Host', 'x']`) are serialised in the constructor: no injection.
    begin(rt, request, request.headersSent !== true && typeof request.setHeader === 'function');
  } catch (err) {
    report('outgoing:http:created', `outgoing node:http tracing failed: ${message(err)}`);
  }
}

export function onHttpRequestStart(rt: Runtime, message_: unknown): void {
  try {
    const request = (message_ as { request?: ClientRequestLike } | null)?.request;
    if (typeof request !== 'object' || request === null) return;
    if (rt.requests.has(request)) return;
    if (rt.httpCreatedSeen) return; // created was published but we left this request alone (ignored/suppressed)
    const st = begin(rt, request, false);
    if (st !== undefined) {
      report(
        'outgoing:http:no-created-channel',
        `this Node.js (${process.version}) has no 'http.client.request.created' diagnostics channel (Node >= 22.12): node:http client spans are recorded but trace context cannot be sent on node:http requests (fetch/undici are not affected)`,
        'info',
        Number.POSITIVE_INFINITY,
      );
    }
  } catch (err) {
    report('outgoing:http:start', `outgoing node:http tracing failed: ${message(err)}`);
  }
}

export function onHttpResponseFinish(rt: Runtime, message_: unknown): void {
  try {
    const m = message_ as { request?: ClientRequestLike; response?: IncomingMessageLike } | null;
    const request = m?.request;
    const response = m?.response;
    if (typeof request !== 'object' || request === null || typeof response !== 'object' || response === null)
      return;
    const st = rt.requests.get(request);
    if (st === undefined || st.ended) return;
    const status = response.statusCode;
    if (typeof status !== 'number') return;
    if (uncertainPort.has(request)) {
      const port = response.socket?.remotePort;
      if (typeof port === 'number') st.span.setAttribute('server.port', port);
    }
    const v = response.httpVersion;
    responseReceived(rt, st, status, typeof v === 'string' && v !== '' ? v : undefined, response);
    // The body is fully read when the response closes with `complete`; closing earlier is an abort.
    response.once?.('close', function onOutgoingResponseClose() {
      rt.requests.delete(request);
      if (response.complete === true) finishRequest(st);
      else finishRequest(st, undefined, CLIENT_ERROR_TYPE_ABORTED);
    });
  } catch (err) {
    report('outgoing:http:response', `outgoing node:http tracing failed: ${message(err)}`);
  }
}

export function onHttpRequestError(rt: Runtime, message_: unknown): void {
  try {
    const m = message_ as { request?: object; error?: unknown } | null;
    const request = m?.request;
    if (typeof request !== 'object' || request === null) return;
    const st = rt.requests.get(request);
    if (st === undefined) return;
    rt.requests.delete(request);
    finishRequest(st, m?.error ?? new Error('request failed'));
  } catch (err) {
    report('outgoing:http:error', `outgoing node:http tracing failed: ${message(err)}`);
  }
}

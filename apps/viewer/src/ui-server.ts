/**
 * The web UI and its JSON API, served from `public/` by the viewer process:
 * - `GET /api/traces?service=&route=&status=ok|error&minDurationMs=&limit=`: trace summaries, newest first;
 * - `GET /api/traces/:traceId`: the whole trace (spans in waterfall order, resource, events, links);
 * - `GET /api/services`, `GET /api/routes`: values for the filters;
 * - `GET /api/stats`: counters (received, rejected, evicted, kept).
 *
 * Security (the page shows whatever the traced services recorded, which can be sensitive):
 * a request with a foreign `Origin` is refused, no CORS headers are sent, and when bound to a
 * loopback address the `Host` header must name the viewer, which stops DNS-rebinding pages from
 * reading the API. A strict Content-Security-Policy keeps the page to its own files.
 */
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TraceQuery, TraceStore } from './store.js';

/** Options of {@link createUiHandler}. */
export interface UiHandlerOptions {
  store: TraceStore;
  /** Directory with `index.html`, `app.js`, `style.css`, `favicon.svg`. */
  publicDir: URL;
  /** Origins allowed to call (the viewer's own); any other `Origin` is refused. */
  allowedOrigins: ReadonlySet<string>;
  /** `Host` header values accepted; undefined accepts any (bound to a non-loopback address). */
  allowedHosts: ReadonlySet<string> | undefined;
  /** Extra values appended to `/api/stats` (the OTLP URL, for the page header). */
  info: Record<string, string>;
}

const STATIC: Record<string, [file: string, type: string]> = {
  '/': ['index.html', 'text/html; charset=utf-8'],
  '/index.html': ['index.html', 'text/html; charset=utf-8'],
  '/app.js': ['app.js', 'text/javascript; charset=utf-8'],
  '/style.css': ['style.css', 'text/css; charset=utf-8'],
  '/favicon.svg': ['favicon.svg', 'image/svg+xml'],
};

const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-resource-policy': 'same-origin',
};

const TRACE_PATH = /^\/api\/traces\/([0-9a-fA-F]{32})$/;

class BadQuery extends Error {}

function parseQuery(params: URLSearchParams): TraceQuery {
  const q: TraceQuery = {};
  const service = params.get('service');
  if (service) q.service = service;
  const route = params.get('route');
  if (route) q.route = route;
  const status = params.get('status');
  if (status) {
    if (status !== 'ok' && status !== 'error') throw new BadQuery('status must be "ok" or "error"');
    q.status = status;
  }
  const min = params.get('minDurationMs');
  if (min) {
    const n = Number(min);
    if (!Number.isFinite(n) || n < 0) throw new BadQuery('minDurationMs must be a number >= 0');
    q.minDurationMs = n;
  }
  const limit = params.get('limit');
  if (limit) {
    const n = Number(limit);
    if (!Number.isInteger(n) || n < 1 || n > 10_000)
      throw new BadQuery('limit must be an integer from 1 to 10000');
    q.limit = n;
  }
  return q;
}

/**
 * A `node:http` request handler for the UI and the JSON API.
 *
 * @example
 * http.createServer(createUiHandler({ store, publicDir, allowedOrigins, allowedHosts, info: {} })).listen(16686);
 */
export function createUiHandler(
  options: UiHandlerOptions,
): (req: IncomingMessage, res: ServerResponse) => void {
  const { store, publicDir, allowedOrigins, allowedHosts, info } = options;
  // Files are read once: they are small, and the viewer must not depend on the disk afterwards.
  const files = new Map<string, { body: Buffer; type: string }>();
  for (const [path, [file, type]] of Object.entries(STATIC)) {
    files.set(path, { body: readFileSync(new URL(file, publicDir)), type });
  }

  function json(res: ServerResponse, status: number, value: unknown, head: boolean): void {
    const body = Buffer.from(JSON.stringify(value), 'utf8');
    res.writeHead(status, {
      ...SECURITY_HEADERS,
      'content-type': 'application/json; charset=utf-8',
      'content-length': String(body.length),
      'cache-control': 'no-store',
    });
    res.end(head ? undefined : body);
  }

  return function viewerUi(req: IncomingMessage, res: ServerResponse): void {
    const head = req.method === 'HEAD';
    const host = req.headers.host;
    if (allowedHosts !== undefined && (host === undefined || !allowedHosts.has(host.toLowerCase()))) {
      json(res, 403, { error: 'unexpected Host header (DNS rebinding protection)' }, head);
      return;
    }
    const origin = req.headers.origin;
    if (origin !== undefined && !allowedOrigins.has(origin)) {
      json(res, 403, { error: 'cross-origin requests are not accepted' }, head);
      return;
    }
    if (req.method !== 'GET' && !head) {
      res.setHeader('allow', 'GET, HEAD');
      json(res, 405, { error: 'method not allowed' }, false);
      return;
    }
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://viewer.invalid');
    } catch {
      json(res, 400, { error: 'bad url' }, head);
      return;
    }
    const path = url.pathname;
    const file = files.get(path);
    if (file !== undefined) {
      res.writeHead(200, {
        ...SECURITY_HEADERS,
        'content-type': file.type,
        'content-length': String(file.body.length),
        'cache-control': 'no-cache',
      });
      res.end(head ? undefined : file.body);
      return;
    }
    try {
      if (path === '/api/traces') {
        json(res, 200, { traces: store.list(parseQuery(url.searchParams)) }, head);
        return;
      }
      const m = TRACE_PATH.exec(path);
      if (m !== null) {
        const trace = store.get(m[1]!);
        if (trace === undefined)
          json(res, 404, { error: 'trace not found (never received, or evicted)' }, head);
        else json(res, 200, trace, head);
        return;
      }
      if (path === '/api/services') {
        json(res, 200, { services: store.services() }, head);
        return;
      }
      if (path === '/api/routes') {
        json(res, 200, { routes: store.routes() }, head);
        return;
      }
      if (path === '/api/stats') {
        json(res, 200, { ...store.stats(), version: store.version, ...info }, head);
        return;
      }
      json(res, 404, { error: 'not found' }, head);
    } catch (err) {
      if (err instanceof BadQuery) json(res, 400, { error: err.message }, head);
      else json(res, 500, { error: 'internal error' }, head);
    }
  };
}

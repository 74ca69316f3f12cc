/**
 * Test-only helpers for the outgoing-request tests (not exported from the package): a real SDK
 * registered globally, real servers on 127.0.0.1, a DNS lookup that sends any name to 127.0.0.1 so
 * "public" host names can be exercised without network access.
 *
 * The SDK is the official one (`@opentelemetry/sdk-trace-base`) with a context manager written
 * here on AsyncLocalStorage, so these tests do not depend on tracewire's own SDK.
 */
import {
  type Context,
  type ContextManager,
  context,
  propagation,
  ROOT_CONTEXT,
  type Span,
  trace,
} from '@opentelemetry/api';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { AsyncLocalStorage } from 'node:async_hooks';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, LookupFunction } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A minimal ContextManager on AsyncLocalStorage (what the official context-async-hooks package does). */
export class AlsContextManager implements ContextManager {
  private readonly als = new AsyncLocalStorage<Context>();
  active(): Context {
    return this.als.getStore() ?? ROOT_CONTEXT;
  }
  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(
    ctx: Context,
    fn: F,
    thisArg?: ThisParameterType<F>,
    ...args: A
  ): ReturnType<F> {
    return this.als.run(ctx, () => fn.apply(thisArg, args));
  }
  bind<T>(ctx: Context, target: T): T {
    if (typeof target !== 'function') return target;
    const self = this;
    return function (this: unknown, ...args: unknown[]) {
      return self.with(ctx, () => (target as (...a: unknown[]) => unknown).apply(this, args));
    } as T;
  }
  enable(): this {
    return this;
  }
  disable(): this {
    this.als.disable();
    return this;
  }
}

export interface OfficialSdk {
  exporter: InMemorySpanExporter;
  provider: BasicTracerProvider;
  /** Finished spans so far. */
  spans(): ReadableSpan[];
  clientSpans(): ReadableSpan[];
  /** Run `fn` inside a new active INTERNAL span named `parent`; returns fn's result and the span. */
  inParent<T>(fn: () => Promise<T>): Promise<{ result: T; parent: Span }>;
}

/** Register the official SDK globally (tracer provider, ALS context manager, W3C propagators). */
export function installOfficialSdk(extra: SpanProcessor[] = []): OfficialSdk {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter), ...extra] });
  context.setGlobalContextManager(new AlsContextManager());
  trace.setGlobalTracerProvider(provider);
  propagation.setGlobalPropagator(
    new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }),
  );
  const tracer = trace.getTracer('test');
  return {
    exporter,
    provider,
    spans: () => exporter.getFinishedSpans(),
    clientSpans: () => exporter.getFinishedSpans().filter((s) => s.kind === 2 /* CLIENT */),
    async inParent<T>(fn: () => Promise<T>) {
      const parent = tracer.startSpan('parent');
      try {
        const result = await context.with(trace.setSpan(context.active(), parent), fn);
        return { result, parent };
      } finally {
        parent.end();
      }
    },
  };
}

/** What a test server saw of one request. */
export interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  rawHeaders: string[];
  body: string;
}

export interface TestServer {
  url: string;
  port: number;
  seen: SeenRequest[];
  server: Server;
  close(): Promise<void>;
}

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

const defaultHandler: Handler = (_req, res) => {
  res.setHeader('content-type', 'text/plain');
  res.end('ok');
};

function track(server: Server, handler: Handler, seen: SeenRequest[]): void {
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => {
      body += c;
    });
    req.on('end', () => {
      seen.push({
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        rawHeaders: req.rawHeaders,
        body,
      });
      handler(req, res, body);
    });
  });
}

async function listen(server: Server, scheme: string, seen: SeenRequest[]): Promise<TestServer> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `${scheme}://127.0.0.1:${port}`,
    port,
    seen,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}

/** A plain HTTP server on 127.0.0.1 (free port) recording what it receives. */
export async function startTestServer(handler: Handler = defaultHandler): Promise<TestServer> {
  const seen: SeenRequest[] = [];
  const server = createServer();
  track(server, handler, seen);
  return listen(server, 'http', seen);
}

/** An HTTPS server with a self-signed certificate generated by `openssl` now; returns the cert to trust. */
export async function startTlsServer(
  handler: Handler = defaultHandler,
): Promise<TestServer & { cert: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'tracewire-tls-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=DNS:localhost,IP:127.0.0.1',
      ],
      { stdio: 'ignore' },
    );
    const key = readFileSync(join(dir, 'key.pem'), 'utf8');
    const cert = readFileSync(join(dir, 'cert.pem'), 'utf8');
    const seen: SeenRequest[] = [];
    const server = createHttpsServer({ key, cert });
    track(server as unknown as Server, handler, seen);
    const s = await listen(server as unknown as Server, 'https', seen);
    return { ...s, cert };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A port on 127.0.0.1 where nothing listens (bound then released), for connection-refused tests. */
export async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/** A DNS lookup answering 127.0.0.1 for every name (node:http `lookup` option, undici `connect.lookup`). */
export const lookupToLoopback: LookupFunction = (_hostname, options, callback) => {
  const cb = callback as unknown as (...args: unknown[]) => void;
  if ((options as { all?: boolean }).all) cb(null, [{ address: '127.0.0.1', family: 4 }]);
  else cb(null, '127.0.0.1', 4);
};

/** Collects `diag` messages (install with `diag.setLogger(logger, DiagLogLevel.ALL)`). */
export class DiagCollector {
  readonly messages: string[] = [];
  private push(level: string, msg: string) {
    this.messages.push(`${level}: ${msg}`);
  }
  error = (msg: string) => this.push('error', msg);
  warn = (msg: string) => this.push('warn', msg);
  info = (msg: string) => this.push('info', msg);
  debug = (msg: string) => this.push('debug', msg);
  verbose = (msg: string) => this.push('verbose', msg);
}

/**
 * Whether this Node publishes `http.client.request.created` (the only moment node:http headers can
 * still be added), found out by creating a request and seeing whether the channel fires, as
 * tracewire itself does; no version table.
 */
export function nodeCanInjectHttp(): boolean {
  return CAN_INJECT_HTTP;
}

const CAN_INJECT_HTTP = probeCreatedChannel();

function probeCreatedChannel(): boolean {
  let seen = false;
  const onCreated = () => {
    seen = true;
  };
  subscribe('http.client.request.created', onCreated);
  try {
    const req = httpRequest({ host: '127.0.0.1', port: 9, agent: false });
    req.on('error', () => {});
    req.destroy();
  } finally {
    unsubscribe('http.client.request.created', onCreated);
  }
  return seen;
}

/** Parse a `traceparent` header. */
export function parseTraceparent(
  h: unknown,
): { traceId: string; parentId: string; flags: string } | undefined {
  if (typeof h !== 'string') return undefined;
  const m = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/.exec(h);
  return m ? { traceId: m[1] as string, parentId: m[2] as string, flags: m[3] as string } : undefined;
}

/** Waits until `cond()` holds (polling), or throws after `ms`. */
export async function until(cond: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

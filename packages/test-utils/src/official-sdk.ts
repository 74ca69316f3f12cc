/**
 * Test support: a real OTLP receiver (independent decoder), an SDK registered globally through
 * `@opentelemetry/api` that exports to it, real servers on 127.0.0.1:0 and real HTTP requests.
 */
import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { BasicTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { type DecodedSpan, type OtlpReceiver, startOtlpReceiver } from '@tracewire/test-utils';
import { request as httpRequest, type RequestListener, type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Tracing {
  receiver: OtlpReceiver;
  /** Spans of kind SERVER received so far. */
  serverSpans(): DecodedSpan[];
  /** Wait until `n` SERVER spans arrived; returns them. */
  waitForServerSpans(n: number): Promise<DecodedSpan[]>;
  shutdown(): Promise<void>;
}

export const SERVER = 2;
export const INTERNAL = 1;

/**
 * The official SDK (BasicTracerProvider + OTLP/protobuf exporter + AsyncLocalStorage context
 * manager + W3C propagator) registered globally, exporting every span as it ends to a real OTLP
 * receiver: the adapter must work with any SDK registered through `@opentelemetry/api`.
 */
export async function officialSdk(): Promise<Tracing> {
  const receiver = await startOtlpReceiver();
  const provider = new BasicTracerProvider({
    spanProcessors: [new SimpleSpanProcessor(new OTLPTraceExporter({ url: receiver.tracesUrl }))],
  });
  const cm = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(cm);
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
  return tracingOf(receiver, async () => {
    await provider.shutdown();
    trace.disable();
    context.disable();
    propagation.disable();
    await receiver.close();
  });
}

export function tracingOf(receiver: OtlpReceiver, shutdown: () => Promise<void>): Tracing {
  const serverSpans = () => receiver.spans().filter((s) => s.kind === SERVER);
  return {
    receiver,
    serverSpans,
    waitForServerSpans: async (n) => {
      await receiver.waitFor((spans) => spans.filter((s) => s.kind === SERVER).length >= n, 8000);
      return serverSpans();
    },
    shutdown,
  };
}

export interface Served {
  url: string;
  port: number;
  server: Server;
  close(): Promise<void>;
}

/** Listen on 127.0.0.1, a free port. */
export async function serve(handler: RequestListener): Promise<Served> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface Reply {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
}

/** A real HTTP request with node:http (no fetch: keeps client instrumentation out of the picture). */
export function send(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      { method: options.method ?? 'GET', headers: options.headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).toString('utf8'),
            headers: res.headers,
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Milliseconds between a span's start and end. */
export function durationMs(span: DecodedSpan): number {
  return Number(span.endTimeUnixNano - span.startTimeUnixNano) / 1e6;
}

/** The one span whose `url.path` is `path` (fails loudly when there is not exactly one). */
export function spanFor(spans: DecodedSpan[], path: string, method = 'GET'): DecodedSpan {
  const found = spans.filter(
    (s) => s.attributes['url.path'] === path && s.attributes['http.request.method'] === method,
  );
  if (found.length !== 1) {
    throw new Error(
      `expected one ${method} ${path} span, got ${found.length}: ${JSON.stringify(spans.map((s) => s.name))}`,
    );
  }
  return found[0] as DecodedSpan;
}

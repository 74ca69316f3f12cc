/**
 * Test support for the HTTP lifecycle suites (not part of the published package: only `index.ts`
 * is built). Spans are checked through the OFFICIAL SDK (BasicTracerProvider + InMemorySpanExporter,
 * official W3C propagator), so these tests prove the lifecycle works with any API-compatible SDK;
 * `tracewire-sdk.test.ts` and `start-e2e.test.ts` run it on tracewire's own SDK.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { context, DiagLogLevel, diag, propagation, type TracerProvider, trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  ParentBasedSampler,
  type ReadableSpan,
  type Sampler,
  SamplingDecision,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { AsyncLocalStorageContextManager } from '../sdk/context-manager.js';
import { createHttpServerTracing } from './server-tracing.js';
import type { HttpServerTracingOptions, ServerRequestTrace } from './types.js';

/** What the sampler was shown at span start: proves which attributes were there for sampling. */
export const sampledWith: Array<{ name: string; attributes: Record<string, unknown> }> = [];

const recordingSampler: Sampler = {
  shouldSample(_ctx, _traceId, name, _kind, attributes) {
    sampledWith.push({ name, attributes: { ...attributes } });
    return { decision: SamplingDecision.RECORD_AND_SAMPLED };
  },
  toString: () => 'RecordingSampler',
};

export const exporter = new InMemorySpanExporter();
export const provider = new BasicTracerProvider({
  sampler: new ParentBasedSampler({ root: recordingSampler }),
  spanProcessors: [new SimpleSpanProcessor(exporter)],
});

/** What `diag` was told (warnings and errors): where fenced failures must end up. */
export const diagMessages: string[] = [];

let installed = false;
/** Register the official SDK, W3C propagation and the context manager globally (once per test file). */
export function installGlobalSdk(tracerProvider: TracerProvider = provider): void {
  if (installed) return;
  installed = true;
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(tracerProvider);
  diag.setLogger(
    {
      error: (m: string) => diagMessages.push(m),
      warn: (m: string) => diagMessages.push(m),
      info: () => {},
      debug: () => {},
      verbose: () => {},
    },
    { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true },
  );
}

/** Finished spans once at least `count` exist (spans end on the response's `close`, a tick after the client sees the end). */
export async function waitForSpans(count: number, timeoutMs = 3000): Promise<ReadableSpan[]> {
  const until = Date.now() + timeoutMs;
  while (exporter.getFinishedSpans().length < count) {
    if (Date.now() > until) {
      throw new Error(`expected ${count} spans, have ${exporter.getFinishedSpans().length}`);
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  return exporter.getFinishedSpans();
}

export type Handler = (req: IncomingMessage, res: ServerResponse, t: ServerRequestTrace) => void;

export interface TestServer {
  server: Server;
  port: number;
  url: string;
  close(): Promise<void>;
}

/** A real `node:http` server on 127.0.0.1:0 whose every request goes through the lifecycle first. */
export async function serve(
  options: HttpServerTracingOptions | undefined,
  handler: Handler,
): Promise<TestServer> {
  const tracing = createHttpServerTracing(options, { name: '@tracewire/test', version: '1.2.3' });
  const server = createServer((req, res) => {
    const t = tracing.begin(req, res);
    context.with(t.context, () => handler(req, res, t));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    port,
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Send bytes exactly as given (malformed and repeated headers) and return the raw response text. */
export function rawRequest(port: number, payload: string | Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('end', () => resolve(Buffer.concat(chunks).toString('latin1')));
    socket.on('error', reject);
    socket.write(payload);
  });
}

/** A `GET` with `Connection: close` and the given extra header lines. */
export function rawGet(
  port: number,
  target: string,
  headerLines: string[] = [],
  method = 'GET',
): Promise<string> {
  const lines = [`${method} ${target} HTTP/1.1`, ...headerLines, 'Connection: close', '', ''];
  return rawRequest(port, lines.join('\r\n'));
}

/**
 * Official SDK processors and exporters plugged into tracewire's SDK: the span objects tracewire
 * creates must be readable by them exactly as their own are. Spans are received over real HTTP on
 * 127.0.0.1 and decoded independently (Zipkin JSON with JSON.parse; OTLP protobuf with the generated
 * decoder of otlp-transformer 0.52 in @tracewire/test-utils).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, type Tracer, trace } from '@opentelemetry/api';
import { ZipkinExporter } from '@opentelemetry/exporter-zipkin';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { BatchSpanProcessor, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { type OtlpReceiver, startOtlpReceiver } from '@tracewire/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { start } from './start.js';
import type { SpanProcessor } from './types.js';
import { TracewireTracerProvider } from './tracer-provider.js';

interface ZipkinSpan {
  traceId: string;
  id: string;
  parentId?: string;
  name: string;
  kind?: string;
  timestamp: number;
  duration: number;
  localEndpoint: { serviceName: string };
  tags: Record<string, string>;
  annotations?: { timestamp: number; value: string }[];
}

let zipkinServer: Server;
let zipkinUrl: string;
const zipkinSpans: ZipkinSpan[] = [];
let otlp: OtlpReceiver;

beforeAll(async () => {
  zipkinServer = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      zipkinSpans.push(...(JSON.parse(Buffer.concat(chunks).toString('utf8')) as ZipkinSpan[]));
      res.statusCode = 202;
      res.end();
    });
  });
  await new Promise<void>((r) => zipkinServer.listen(0, '127.0.0.1', r));
  zipkinUrl = `http://127.0.0.1:${(zipkinServer.address() as AddressInfo).port}/api/v2/spans`;
  otlp = await startOtlpReceiver();
});
afterAll(async () => {
  await new Promise((r) => zipkinServer.close(r));
  await otlp.close();
});

/**
 * The official processor types declare `parentSpanContext?: SpanContext`, tracewire's contract
 * `parentSpanContext?: SpanContext | undefined`; under `exactOptionalPropertyTypes` TypeScript sees
 * them as different. At run time they are the same shape (which is what these tests prove).
 */
const official = (p: unknown) => p as SpanProcessor;

function makeTrace(tracer: Tracer) {
  const server = tracer.startSpan('GET /users/:id', {
    kind: SpanKind.SERVER,
    attributes: {
      'http.request.method': 'GET',
      'http.route': '/users/:id',
      'http.response.status_code': 500,
    },
  });
  const child = tracer.startSpan('db query', { kind: SpanKind.CLIENT }, trace.setSpan(ROOT_CONTEXT, server));
  child.setAttribute('db.system.name', 'postgresql');
  child.addEvent('rows', { count: 2 });
  child.end();
  server.setStatus({ code: SpanStatusCode.ERROR, message: 'boom' });
  server.end();
  return { server: server.spanContext(), child: child.spanContext() };
}

type Entry = 'new TracewireTracerProvider()' | 'start({ spanProcessors })';

/** Runs `makeTrace` on tracewire set up through `entry` with `processor`, then flushes and shuts down. */
async function runWith(entry: Entry, processor: SpanProcessor, serviceName: string) {
  if (entry === 'start({ spanProcessors })') {
    const handle = start({
      env: {},
      outgoing: false,
      shutdownOnSignals: false,
      serviceName,
      spanProcessors: [processor],
    });
    // Through the global API, as application code would.
    const ids = makeTrace(trace.getTracer('interop', '3.1.0') as Tracer);
    await handle.shutdown();
    return ids;
  }
  const provider = new TracewireTracerProvider({
    env: {},
    resource: { 'service.name': serviceName },
    spanProcessors: [processor],
  });
  const ids = makeTrace(provider.getTracer('interop', '3.1.0'));
  await provider.shutdown();
  return ids;
}

const entries: Entry[] = ['new TracewireTracerProvider()', 'start({ spanProcessors })'];

describe('official processors and exporters on tracewire spans', () => {
  for (const entry of entries) {
    it(`Zipkin exporter via the official SimpleSpanProcessor, through ${entry}`, async () => {
      zipkinSpans.length = 0;
      const ids = await runWith(
        entry,
        official(new SimpleSpanProcessor(new ZipkinExporter({ url: zipkinUrl }))),
        'zipkin-svc',
      );
      await expect.poll(() => zipkinSpans.length, { timeout: 5000 }).toBe(2);
      const server = zipkinSpans.find((s) => s.name === 'GET /users/:id')!;
      const child = zipkinSpans.find((s) => s.name === 'db query')!;
      expect(server.traceId).toBe(ids.server.traceId);
      expect(server.id).toBe(ids.server.spanId);
      expect(server.parentId).toBeUndefined();
      expect(server.kind).toBe('SERVER');
      expect(child.traceId).toBe(ids.server.traceId);
      expect(child.id).toBe(ids.child.spanId);
      expect(child.parentId).toBe(ids.server.spanId);
      expect(child.kind).toBe('CLIENT');
      expect(server.localEndpoint.serviceName).toBe('zipkin-svc');
      expect(server.tags).toMatchObject({
        'http.request.method': 'GET',
        'http.route': '/users/:id',
        'http.response.status_code': '500',
        'otel.status_code': 'ERROR',
        error: 'boom',
        'telemetry.sdk.name': 'tracewire',
      });
      expect(child.tags['db.system.name']).toBe('postgresql');
      expect(child.annotations?.[0]?.value).toMatch(/rows/);
      // Zipkin times are epoch microseconds.
      expect(Math.abs(server.timestamp / 1000 - Date.now())).toBeLessThan(10_000);
      expect(server.duration).toBeGreaterThanOrEqual(child.duration);
    });

    it(`official OTLP/protobuf exporter via the official BatchSpanProcessor, through ${entry}`, async () => {
      otlp.reset();
      const ids = await runWith(
        entry,
        official(new BatchSpanProcessor(new OTLPTraceExporter({ url: otlp.tracesUrl }))),
        'otlp-svc',
      );
      const spans = await otlp.waitForSpans(2);
      expect(spans).toHaveLength(2);
      const server = spans.find((s) => s.name === 'GET /users/:id')!;
      const child = spans.find((s) => s.name === 'db query')!;
      expect(server.traceId).toBe(ids.server.traceId);
      expect(server.spanId).toBe(ids.server.spanId);
      expect(server.parentSpanId).toBe('');
      expect(child.traceId).toBe(ids.server.traceId);
      expect(child.spanId).toBe(ids.child.spanId);
      expect(child.parentSpanId).toBe(server.spanId);
      expect(server.kind).toBe(2);
      expect(child.kind).toBe(3);
      expect(server.attributes).toEqual({
        'http.request.method': 'GET',
        'http.route': '/users/:id',
        'http.response.status_code': 500,
      });
      expect(server.status).toEqual({ code: SpanStatusCode.ERROR, message: 'boom' });
      expect(child.events[0]).toMatchObject({ name: 'rows', attributes: { count: 2 } });
      expect(server.scope).toMatchObject({ name: 'interop', version: '3.1.0' });
      expect(server.resource).toMatchObject({
        'service.name': 'otlp-svc',
        'telemetry.sdk.name': 'tracewire',
        'telemetry.sdk.language': 'nodejs',
      });
      expect(server.endTimeUnixNano).toBeGreaterThan(server.startTimeUnixNano);
      expect(server.startTimeUnixNano).toBeLessThanOrEqual(child.startTimeUnixNano);
    });
  }
});

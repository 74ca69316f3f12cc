/**
 * The viewer receives what `@tracewire/core` sends: spans made by tracewire's own SDK
 * (`TracewireTracerProvider`), exported by its `OtlpHttpExporter` over real HTTP in every
 * protocol/compression combination, must come out of the viewer's API field for field.
 */
import { context, type Span, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import {
  type ExportResult,
  OtlpHttpExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
  type SpanExporter,
  TracewireTracerProvider,
} from '@tracewire/core';
import type { ReadableSpan as OfficialReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startViewer, type Viewer } from '../src/index.js';
import { bySpanId, expectedRecord, getJson } from './helpers.js';

/** Delegates to the real exporter and keeps what it was given, so the test knows what was sent. */
class Recording implements SpanExporter {
  readonly sent: ReadableSpan[] = [];
  constructor(private readonly inner: OtlpHttpExporter) {}
  export(spans: ReadableSpan[], done: (r: ExportResult) => void): void {
    this.sent.push(...spans);
    this.inner.export(spans, done);
  }
  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }
  forceFlush(): Promise<void> {
    return this.inner.forceFlush?.() ?? Promise.resolve();
  }
}

let viewer: Viewer;
beforeAll(async () => {
  viewer = await startViewer({ otlpPort: 0, uiPort: 0, env: {} });
});
afterAll(() => viewer.close());

const combos = [
  { protocol: 'http/protobuf', compression: 'none' },
  { protocol: 'http/protobuf', compression: 'gzip' },
  { protocol: 'http/json', compression: 'none' },
  { protocol: 'http/json', compression: 'gzip' },
] as const;

describe('@tracewire/core OtlpHttpExporter -> viewer', () => {
  for (const { protocol, compression } of combos) {
    it(`${protocol}, compression ${compression}: every span arrives with every field intact`, async () => {
      const exporter = new OtlpHttpExporter({
        url: `${viewer.otlpUrl}/v1/traces`,
        protocol,
        compression,
        env: {},
      });
      const recording = new Recording(exporter);
      const provider = new TracewireTracerProvider({
        resource: { 'service.name': `core-${protocol}-${compression}`, 'service.version': '1.0.0' },
        spanProcessors: [new SimpleSpanProcessor(recording)],
        env: {},
      });
      const tracer = provider.getTracer('viewer-test', '9.9.9');
      let traceId = '';
      let linkTarget: Span | undefined;
      tracer.startActiveSpan('GET /users/:id', { kind: SpanKind.SERVER }, (root) => {
        traceId = root.spanContext().traceId;
        root.setAttributes({
          'http.request.method': 'GET',
          'http.route': '/users/:id',
          'http.response.status_code': 500,
          'http.request.header.accept': ['application/json', 'text/html'],
          ratio: 0.25,
          cached: false,
        });
        linkTarget = tracer.startSpan('background', { root: true });
        linkTarget.end();
        const child = tracer.startSpan(
          'SELECT users',
          {
            kind: SpanKind.CLIENT,
            attributes: { 'db.system.name': 'postgresql' },
            links: [{ context: linkTarget.spanContext(), attributes: { reason: 'batch' } }],
          },
          trace.setSpan(context.active(), root),
        );
        child.addEvent('retry', { attempt: 2 });
        child.end();
        root.recordException(new TypeError('user store unavailable'));
        root.setStatus({ code: SpanStatusCode.ERROR, message: 'boom' });
        root.end();
      });
      await provider.forceFlush();
      await provider.shutdown();
      expect(exporter.stats().exportedSpans).toBe(3);

      const got = await getJson(`${viewer.uiUrl}/api/traces/${traceId}`);
      const expected = bySpanId(
        recording.sent
          .filter((s) => s.spanContext().traceId === traceId)
          .map((s) => expectedRecord(s as unknown as OfficialReadableSpan)),
      );
      const received = bySpanId(got.spans).map(
        ({ service, depth, orphan, startOffsetMs, durationMs, ...rec }: Record<string, unknown>) => rec,
      );
      // Every span field, its resource and its scope, exactly as the SDK handed them to the exporter.
      expect(received).toEqual(expected);
      const root = got.spans.find((s: { name: string }) => s.name === 'GET /users/:id');
      expect(root.events[0].attributes).toContainEqual({
        key: 'exception.type',
        value: { stringValue: 'TypeError' },
      });
      expect(
        root.events[0].attributes.find((a: { key: string }) => a.key === 'exception.stacktrace'),
      ).toBeDefined();
      expect(got.errorCount).toBe(1);
    });
  }
});

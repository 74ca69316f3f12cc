/**
 * The OTLP exporter's own requests must never be traced: with outgoing tracing at its most eager
 * (no parent required, propagate everywhere), every export would otherwise create a CLIENT span that
 * the next export sends, forever. Checked end to end with a real OTLP receiver decoding with the
 * independent decoder.
 */
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import type { Context } from '@opentelemetry/api';
import {
  type ReadableSpan,
  SimpleSpanProcessor,
  type Span,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { startOtlpReceiver, type OtlpReceiver } from '@tracewire/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OtlpHttpExporter } from '../export/otlp-http-exporter.js';
import { enableOutgoingTracing } from './index.js';
import {
  installOfficialSdk,
  type OfficialSdk,
  parseTraceparent,
  startTestServer,
  type TestServer,
} from './test-support.js';

/**
 * Exports each span as it ends, in the context of whatever code ended it (here: inside the parent
 * span, after the fetch). Unlike the official processors, it does NOT wrap the export in
 * `suppressTracing`, so only the exporter's own suppression stands between an export and a loop.
 */
class UnsuppressedProcessor implements SpanProcessor {
  private readonly pending = new Set<Promise<void>>();
  constructor(private readonly exporter: SpanExporter) {}
  onStart(_span: Span, _ctx: Context): void {}
  onEnd(span: ReadableSpan): void {
    const p = new Promise<void>((resolve) => this.exporter.export([span], () => resolve()));
    this.pending.add(p);
    p.finally(() => this.pending.delete(p));
  }
  async forceFlush(): Promise<void> {
    await Promise.all([...this.pending]);
  }
  async shutdown(): Promise<void> {
    await this.forceFlush();
    await this.exporter.shutdown();
  }
}

let tracewireReceiver: OtlpReceiver;
let officialReceiver: OtlpReceiver;
let server: TestServer;
let sdk: OfficialSdk;
let disable: () => void;

beforeAll(async () => {
  tracewireReceiver = await startOtlpReceiver();
  officialReceiver = await startOtlpReceiver();
  server = await startTestServer();
  sdk = installOfficialSdk([
    // The cast: tracewire's ReadableSpan type says `resource.getRawAttributes()` values are plain,
    // the official one allows promises; at run time the exporter takes the official spans as is.
    new UnsuppressedProcessor(new OtlpHttpExporter({ url: tracewireReceiver.tracesUrl })),
    // The official exporter relies on its processor to suppress tracing (@opentelemetry/core `_export`).
    new SimpleSpanProcessor(new OTLPTraceExporter({ url: officialReceiver.tracesUrl })),
  ]);
  disable = enableOutgoingTracing({ requireParent: false, propagateTo: true });
});

afterAll(async () => {
  disable();
  await sdk.provider.shutdown();
  await tracewireReceiver.close();
  await officialReceiver.close();
  await server.close();
});

describe('no feedback loop', () => {
  it.each([
    [
      'OtlpHttpExporter (tracewire), called without any suppression from its processor',
      () => tracewireReceiver,
    ],
    ['OTLPTraceExporter (official) behind the official SimpleSpanProcessor', () => officialReceiver],
  ])('%s: exports carry no trace headers and create no spans', async (_name, receiverOf) => {
    const receiver = receiverOf();
    const { parent } = await sdk.inParent(async () => {
      await (await fetch(`${server.url}/work`)).text();
    });
    // parent + the client span to the test server, decoded independently.
    await receiver.waitFor(
      (all) => all.filter((s) => s.traceId === parent.spanContext().traceId).length >= 2,
    );
    // Give a loop the time to show itself: each export would create a span that triggers another.
    await new Promise((r) => setTimeout(r, 600));
    await sdk.provider.forceFlush();
    const all = receiver.spans();
    const trace = all.filter((s) => s.traceId === parent.spanContext().traceId);
    expect(trace.map((s) => s.name).sort()).toEqual(['GET', 'parent']);
    // Nothing else was exported than the spans of the two test traces (no span per export).
    expect(all.every((s) => s.name === 'GET' || s.name === 'parent')).toBe(true);
    expect(all.filter((s) => s.kind === 3).map((s) => s.attributes['url.full'])).not.toContainEqual(
      expect.stringContaining('/v1/traces'),
    );
    const client = trace.find((s) => s.kind === 3);
    expect(client?.attributes['url.full']).toBe(`${server.url}/work`);
    // Parent/child link as the collector sees it.
    expect(client?.parentSpanId).toBe(parent.spanContext().spanId);
    expect(client?.traceId).toBe(parent.spanContext().traceId);
    expect(parseTraceparent(server.seen.at(-1)?.headers.traceparent)?.parentId).toBe(client?.spanId);
    // The exporter's requests themselves: no propagation headers, and no CLIENT span anywhere for them.
    for (const r of receiver.requests) {
      expect(r.headers.traceparent).toBeUndefined();
      expect(r.headers.baggage).toBeUndefined();
    }
    expect(sdk.clientSpans().filter((s) => String(s.attributes['url.full']).includes('/v1/traces'))).toEqual(
      [],
    );
    const before = receiver.requests.length;
    await new Promise((r) => setTimeout(r, 300));
    expect(receiver.requests.length).toBe(before);
  });
});

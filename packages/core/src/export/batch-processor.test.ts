import { type DiagLogger, DiagLogLevel, diag, ROOT_CONTEXT } from '@opentelemetry/api';
import { type OtlpReceiver, startOtlpReceiver } from '@tracewire/test-utils';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { resetReports } from '../sdk/report.js';
import { type ExportResult, ExportResultCode, type ReadableSpan, type SpanExporter } from '../sdk/types.js';
import { BatchSpanProcessor, type BatchSpanProcessorStats } from './batch-processor.js';
import { ConsoleSpanExporter, formatSpan } from './console-exporter.js';
import { OtlpHttpExporter } from './otlp-http-exporter.js';
import { SimpleSpanProcessor } from './simple-processor.js';
import { httpAttributes, testSpan } from './test-spans.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const end = (p: { onEnd(s: ReadableSpan): void }, n: number, traceFlags = 1) => {
  for (let i = 0; i < n; i++) p.onEnd(testSpan({ name: `s${i}`, traceFlags, attributes: httpAttributes(i) }));
};
/** The accounting identity every processor must keep. */
const balanced = (s: BatchSpanProcessorStats) =>
  s.accepted === s.queued + s.exporting + s.exported + s.dropped + s.failed;

function captureDiag() {
  const messages: string[] = [];
  const push = (m: string) => messages.push(m);
  const logger: DiagLogger = { error: push, warn: push, info: push, debug: () => {}, verbose: () => {} };
  diag.setLogger(logger, { logLevel: DiagLogLevel.INFO, suppressOverrideMessage: true });
  return messages;
}

let receiver: OtlpReceiver;
let exporter: OtlpHttpExporter;
beforeEach(async () => {
  receiver = await startOtlpReceiver();
  exporter = new OtlpHttpExporter({ url: receiver.tracesUrl, env: {} });
  resetReports();
});
afterEach(async () => {
  await exporter.shutdown();
  await receiver.close();
  diag.disable();
});

describe('BatchSpanProcessor', () => {
  it('bounds the queue and counts every dropped span exactly', async () => {
    const messages = captureDiag();
    receiver.setBehavior(() => ({ delayMs: 100 }));
    const p = new BatchSpanProcessor(exporter, { maxQueueSize: 100, maxExportBatchSize: 50, env: {} });
    end(p, 1000);
    // Nothing is exported synchronously inside span.end(): exactly 900 did not fit.
    expect(p.stats()).toMatchObject({ accepted: 1000, queued: 100, dropped: 900 });
    expect(p.droppedSpans).toBe(900);
    expect(messages.filter((m) => m.includes('span queue full'))).toHaveLength(1);
    await p.forceFlush();
    const s = p.stats();
    expect(s).toMatchObject({
      accepted: 1000,
      queued: 0,
      exporting: 0,
      exported: 100,
      dropped: 900,
      failed: 0,
    });
    expect(receiver.spans()).toHaveLength(100);
    expect(receiver.spans().map((x) => x.name)).toEqual(Array.from({ length: 100 }, (_, i) => `s${i}`));
    await p.shutdown();
  });

  it('forceFlush drains a large queue completely, batch after batch, with no failures', async () => {
    receiver.setBehavior(() => ({ delayMs: 5 }));
    const p = new BatchSpanProcessor(exporter, {
      maxQueueSize: 20_000,
      maxExportBatchSize: 512,
      maxConcurrentExports: 2,
      env: {},
    });
    end(p, 20_000);
    await p.forceFlush();
    expect(p.stats()).toMatchObject({ accepted: 20_000, exported: 20_000, failed: 0, dropped: 0, queued: 0 });
    expect(receiver.spans()).toHaveLength(20_000);
    expect(new Set(receiver.spans().map((s) => s.spanId)).size).toBe(20_000);
    expect(Math.max(...receiver.requests.map((r) => r.spans.length))).toBeLessThanOrEqual(512);
    await p.shutdown();
  });

  it('concurrent forceFlush calls all resolve after their spans are exported', async () => {
    receiver.setBehavior(() => ({ delayMs: 20 }));
    const p = new BatchSpanProcessor(exporter, { maxQueueSize: 5000, maxExportBatchSize: 100, env: {} });
    end(p, 1000);
    const a = p.forceFlush();
    end(p, 1000);
    const b = p.forceFlush();
    await a;
    expect(receiver.spans().length).toBeGreaterThanOrEqual(1000);
    await b;
    expect(receiver.spans()).toHaveLength(2000);
    expect(p.stats().failed).toBe(0);
    await p.shutdown();
  });

  it('never runs more exports at once than maxConcurrentExports', async () => {
    let inFlight = 0;
    let peak = 0;
    const slow: SpanExporter = {
      export(spans, cb) {
        inFlight++;
        peak = Math.max(peak, inFlight);
        exporter.export(spans, (r) => {
          inFlight--;
          cb(r);
        });
      },
      shutdown: () => exporter.shutdown(),
    };
    receiver.setBehavior(() => ({ delayMs: 30 }));
    const p = new BatchSpanProcessor(slow, {
      maxQueueSize: 4000,
      maxExportBatchSize: 100,
      maxConcurrentExports: 2,
      env: {},
    });
    end(p, 4000);
    await p.forceFlush();
    expect(peak).toBe(2);
    expect(receiver.spans()).toHaveLength(4000);
    await p.shutdown();
  });

  it('exports as soon as a batch is full, without waiting for the timer', async () => {
    const p = new BatchSpanProcessor(exporter, {
      maxExportBatchSize: 10,
      scheduledDelayMillis: 60_000,
      env: {},
    });
    end(p, 10);
    await receiver.waitForSpans(10, 2000);
    expect(receiver.requests).toHaveLength(1);
    await p.shutdown();
  });

  it('exports a partial batch when the schedule timer fires, and the timer does not hold the process', async () => {
    const p = new BatchSpanProcessor(exporter, { scheduledDelayMillis: 300, env: {} });
    const timersBefore = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    end(p, 3);
    expect(process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length).toBe(timersBefore);
    await sleep(150);
    expect(receiver.requests).toHaveLength(0);
    const started = Date.now();
    await receiver.waitForSpans(3, 2000);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(receiver.requests).toHaveLength(1);
    await p.shutdown();
  });

  it('queues only sampled spans', async () => {
    const p = new BatchSpanProcessor(exporter, { env: {} });
    end(p, 5, 0);
    end(p, 2, 1);
    await p.forceFlush();
    expect(receiver.spans()).toHaveLength(2);
    expect(p.stats()).toMatchObject({ accepted: 2, exported: 2 });
    await p.shutdown();
  });

  it('counts spans of failed exports, keeping accepted = exported + dropped + failed', async () => {
    receiver.setBehavior((_r, i) => (i % 2 === 0 ? { status: 400 } : undefined));
    const p = new BatchSpanProcessor(exporter, { maxQueueSize: 1000, maxExportBatchSize: 100, env: {} });
    end(p, 1000);
    end(p, 10); // dropped: queue full
    await p.forceFlush();
    const s = p.stats();
    expect(s).toMatchObject({ accepted: 1010, exported: 500, failed: 500, dropped: 10, queued: 0 });
    expect(balanced(s)).toBe(true);
    expect(receiver.spans()).toHaveLength(500);
    await p.shutdown();
  });

  it('counts a partial success exactly (rejected spans are failed)', async () => {
    receiver.setBehavior(() => ({
      status: 200,
      body: JSON.stringify({ partialSuccess: { rejectedSpans: 3, errorMessage: 'x' } }),
    }));
    const json = new OtlpHttpExporter({ url: receiver.tracesUrl, protocol: 'http/json', env: {} });
    const p = new BatchSpanProcessor(json, { env: {} });
    end(p, 10);
    await p.shutdown();
    expect(p.stats()).toMatchObject({ accepted: 10, exported: 7, failed: 3 });
  });

  it('fails an export that outlives exportTimeoutMillis, and carries on', async () => {
    const calls: number[] = [];
    const neverAnswers: SpanExporter = {
      export(spans) {
        calls.push(spans.length);
      },
      shutdown: async () => {},
    };
    const p = new BatchSpanProcessor(neverAnswers, {
      exportTimeoutMillis: 200,
      maxExportBatchSize: 5,
      env: {},
    });
    end(p, 12);
    const started = Date.now();
    await p.forceFlush();
    expect(Date.now() - started).toBeGreaterThanOrEqual(180);
    expect(calls).toEqual([5, 5, 2]);
    expect(p.stats()).toMatchObject({ accepted: 12, failed: 12, exported: 0 });
    await p.shutdown();
  });

  it('survives an exporter that throws', async () => {
    const throwing: SpanExporter = {
      export() {
        throw new Error('kaput');
      },
      shutdown: async () => {},
    };
    const messages = captureDiag();
    const p = new BatchSpanProcessor(throwing, { env: {} });
    end(p, 3);
    await p.forceFlush();
    expect(p.stats()).toMatchObject({ accepted: 3, failed: 3 });
    expect(messages.some((m) => m.includes('kaput'))).toBe(true);
  });

  it('shutdown flushes, shuts the exporter down, is idempotent, and drops (counts) later spans', async () => {
    const p = new BatchSpanProcessor(exporter, { scheduledDelayMillis: 60_000, env: {} });
    end(p, 7);
    const a = p.shutdown();
    expect(p.shutdown()).toBe(a);
    await a;
    expect(receiver.spans()).toHaveLength(7);
    const after = await new Promise<ExportResult>((r) => exporter.export([testSpan()], r));
    expect(after.code).toBe(ExportResultCode.FAILED); // the exporter was shut down
    end(p, 2);
    expect(p.stats()).toMatchObject({ accepted: 9, exported: 7, dropped: 2 });
  });

  it('reads OTEL_BSP_* (code wins; bad values warned about and ignored; batch clamped to queue)', () => {
    const messages = captureDiag();
    const fromEnv = new BatchSpanProcessor(exporter, {
      env: {
        OTEL_BSP_MAX_QUEUE_SIZE: '100',
        OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '500',
        OTEL_BSP_SCHEDULE_DELAY: 'soon',
        OTEL_BSP_EXPORT_TIMEOUT: '1234',
      },
    });
    expect(fromEnv.settings).toEqual({
      maxQueueSize: 100,
      maxExportBatchSize: 100,
      scheduledDelayMillis: 5000,
      exportTimeoutMillis: 1234,
      maxConcurrentExports: 2,
    });
    expect(messages.some((m) => m.includes('OTEL_BSP_SCHEDULE_DELAY'))).toBe(true);
    const code = new BatchSpanProcessor(exporter, {
      maxQueueSize: 10,
      maxExportBatchSize: 5,
      env: { OTEL_BSP_MAX_QUEUE_SIZE: '100', OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '50' },
    });
    expect(code.settings).toMatchObject({ maxQueueSize: 10, maxExportBatchSize: 5 });
    expect(new BatchSpanProcessor(exporter, { env: {} }).settings).toEqual({
      maxQueueSize: 2048,
      maxExportBatchSize: 512,
      scheduledDelayMillis: 5000,
      exportTimeoutMillis: 30_000,
      maxConcurrentExports: 2,
    });
  });

  it('rejects bad options with a TypeError naming the option', () => {
    expect(() => new BatchSpanProcessor(exporter, { maxQueueSize: 0 })).toThrow(/options\.maxQueueSize/);
    expect(() => new BatchSpanProcessor(exporter, { maxQueueSize: 10, maxExportBatchSize: 20 })).toThrow(
      /options\.maxExportBatchSize/,
    );
    expect(() => new BatchSpanProcessor(exporter, { scheduledDelayMillis: 1.5 })).toThrow(
      /scheduledDelayMillis/,
    );
    expect(() => new BatchSpanProcessor(exporter, { exportTimeoutMillis: -1 })).toThrow(
      /exportTimeoutMillis/,
    );
    expect(() => new BatchSpanProcessor(exporter, { maxConcurrentExports: 0 })).toThrow(
      /maxConcurrentExports/,
    );
    // biome-ignore lint/suspicious/noExplicitAny: testing bad input from JS callers
    expect(() => new BatchSpanProcessor({} as any)).toThrow(/exporter/);
  });
});

describe('SimpleSpanProcessor and ConsoleSpanExporter', () => {
  it('exports each sampled span as it ends', async () => {
    const p = new SimpleSpanProcessor(exporter);
    p.onStart({}, ROOT_CONTEXT);
    end(p, 3);
    end(p, 2, 0);
    await p.forceFlush();
    expect(receiver.requests).toHaveLength(3);
    expect(p.stats()).toMatchObject({ accepted: 3, exported: 3, failed: 0 });
    await p.shutdown();
    end(p, 1);
    expect(p.stats().dropped).toBe(1);
  });

  it('prints a readable block per span', async () => {
    const lines: string[] = [];
    const p = new SimpleSpanProcessor(new ConsoleSpanExporter({ write: (t) => lines.push(t) }));
    const span = testSpan({
      name: 'GET /users/:id',
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      spanId: '00f067aa0ba902b7',
      parent: { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: 'b7ad6b7169203331', traceFlags: 1 },
      startTime: [1_700_000_000, 0],
      endTime: [1_700_000_000, 1_500_000],
      attributes: { 'http.response.status_code': 500, 'http.route': '/users/:id' },
      events: [
        { name: 'exception', time: [1_700_000_000, 1_000_000], attributes: { 'exception.type': 'Error' } },
      ],
      status: { code: 2, message: 'boom' },
    });
    p.onEnd(span);
    await p.shutdown();
    expect(lines).toEqual([formatSpan(span)]);
    const text = lines[0]!;
    expect(text).toContain('GET /users/:id (SERVER) 1.500 ms');
    expect(text).toContain(
      'trace: 4bf92f3577b34da6a3ce929d0e0e4736  span: 00f067aa0ba902b7  parent: b7ad6b7169203331',
    );
    expect(text).toContain('status: ERROR (boom)');
    expect(text).toContain('http.response.status_code: 500');
    expect(text).toContain('http.route: "/users/:id"');
    expect(text).toContain('exception (+1.000 ms)');
    expect(text).toContain('exception.type: "Error"');
  });
});

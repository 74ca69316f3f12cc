/**
 * Short form of the collector-fault suite (issue #8; the long form with figures is
 * `npm run reliability -w @tracewire/bench`, see docs/reliability.md). A real Express app traced by
 * tracewire (its own process, 100% sampling) is loaded while a real collector process is switched
 * into each fault: collector up, fault, collector up again, in one run. Correctness only: every
 * request succeeds, the process stays up, memory stays under the bound, every span is accounted for
 * exactly, drops are reported through diag at a limited rate, export resumes by itself, and the retry
 * rules of SPEC.md section 1 hold as seen by the collector. No speed assertions (the long form
 * reports throughput and p99).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error untyped JavaScript module shared with the long form
import { runCollectorFault, startCollector } from '../src/reliability/harness.mjs';

const TIMEOUT_MS = 3000;
const QUEUE = 256;
const BATCH = 64;
/**
 * The RSS bound. The queue holds at most QUEUE spans and at most 2 exports of BATCH spans are in
 * flight (≈ 600 bytes per span, measured by src/reliability/span-bytes.mjs: well under 1 MiB here, 2 MiB
 * with the defaults); on top of the collector-up peak we allow 64 MiB for V8's heap growth under a
 * different allocation pattern. An unbounded queue exceeds it within seconds at this load.
 */
const RSS_SLACK_MIB = 64;

const env = {
  OTEL_EXPORTER_OTLP_TIMEOUT: String(TIMEOUT_MS),
  OTEL_BSP_MAX_QUEUE_SIZE: String(QUEUE),
  OTEL_BSP_MAX_EXPORT_BATCH_SIZE: String(BATCH),
  OTEL_BSP_SCHEDULE_DELAY: '200',
};
const seconds = { warmup: 1, baseline: 1, fault: 3, recovery: 2 };

// biome-ignore lint/suspicious/noExplicitAny: the harness is plain JavaScript
type Run = any;
// biome-ignore lint/suspicious/noExplicitAny: the harness is plain JavaScript
let collector: any;

beforeAll(async () => {
  collector = await startCollector();
});
afterAll(async () => {
  await collector?.stop();
});

async function fault(mode: string, modeParams: Record<string, number> = {}): Promise<Run> {
  return runCollectorFault({
    mode,
    modeParams,
    seconds,
    env,
    loader: 'node',
    connections: 8,
    rssEveryMs: 250,
    collector,
  });
}

/** What holds whatever the fault. */
function commonGuarantees(r: Run): void {
  const where = `mode ${r.mode}; app stderr:\n${r.stderr.slice(0, 2000)}`;
  // The app serves every request, in every window.
  for (const w of ['baseline', 'fault', 'recovery'] as const) {
    expect(r[w].total, `${w} requests (${where})`).toBeGreaterThan(0);
    expect(r[w].failures, `${w} failures (${where})`).toEqual([]);
    expect(r[w].failed).toBe(0);
  }
  // Every span accounted for, exactly, once the queue has drained.
  expect(r.settled, `queue drained (${where})`).toBe(true);
  const s = r.stats.end.bsp;
  expect(s.queued + s.exporting).toBe(0);
  expect(s.accepted).toBe(s.exported + s.dropped + s.failed);
  // What the app counts as exported is exactly what the collector received.
  expect(r.collector.end.spans, where).toBe(s.exported);
  // Every request made one span (the stats endpoint itself is ignored).
  const served = r.baseline.total + r.fault.total + r.recovery.total;
  expect(s.accepted).toBeGreaterThanOrEqual(served);
  // Export resumes by itself after the fault: spans arrive in the recovery window.
  expect(r.spansInRecovery, `spans received after recovery (${where})`).toBeGreaterThan(0);
  // Memory bounded.
  expect(r.rss.max, `RSS ${r.rss.max} MiB vs collector-up peak ${r.rss.baselineMax} MiB`).toBeLessThan(
    r.rss.baselineMax + RSS_SLACK_MIB,
  );
  // Drops are reported through diag, at a limited rate (once per cause per 30 s: the run is shorter).
  if (r.droppedInFault > 0) {
    expect(r.diagAll.queueFull.length, where).toBeGreaterThanOrEqual(1);
    expect(r.diagAll.queueFull[0]).toMatch(/span queue full \(maxQueueSize=256\)/);
  }
  expect(r.diagAll.queueFull.length).toBeLessThanOrEqual(1);
  expect(r.diagAll.exportFailed.length).toBeLessThanOrEqual(1);
  // No export is attempted past its deadline (first to last attempt of one body).
  expect(r.attempts.maxSpan).toBeLessThan(TIMEOUT_MS);
}

describe('collector faults under load (short form)', { timeout: 90_000 }, () => {
  it('collector down (connection refused): network errors retried until the deadline, spans dropped and counted, export resumes', async () => {
    const r = await fault('down');
    commonGuarantees(r);
    expect(r.collector.fault.arrivals).toBe(r.collector.before.arrivals);
    expect(r.retriesInFault).toBeGreaterThan(0);
    expect(r.droppedInFault).toBeGreaterThan(0);
    expect(r.diagAll.queueFull.length).toBe(1);
    expect(r.stats.end.bsp.failed).toBeGreaterThan(0);
  });

  it('collector answers 503 with Retry-After: retried no sooner than Retry-After, never past the deadline', async () => {
    const r = await fault('503', { retryAfter: 1 });
    commonGuarantees(r);
    expect(r.attempts.retried).toBeGreaterThan(0);
    // Retry-After: 1 s replaces the backoff (which would start at ≤ 250 ms).
    expect(r.attempts.minGapAfterFault).toBeGreaterThanOrEqual(990);
    // With a 3 s deadline and 1 s between attempts, one export makes at most 3 attempts.
    expect(r.attempts.maxAttempts).toBeLessThanOrEqual(3);
    expect(r.collector.fault.statuses['503']).toBeGreaterThan(0);
  });

  it('collector answers 429: retried with backoff, never past the deadline', async () => {
    const r = await fault('429');
    commonGuarantees(r);
    expect(r.attempts.retried).toBeGreaterThan(0);
    expect(r.attempts.maxAttempts).toBeGreaterThan(1);
  });

  for (const status of ['400', '500']) {
    it(`collector answers ${status}: final, never retried; the failure is reported`, async () => {
      const r = await fault(status);
      commonGuarantees(r);
      expect(r.attempts.bodies).toBeGreaterThan(0);
      expect(r.attempts.maxAttempts).toBe(1);
      expect(r.attempts.retriedAfterFault).toBe(0);
      expect(r.retriesInFault).toBe(0);
      expect(r.collector.fault.statuses[status] - (r.collector.before.statuses[status] ?? 0)).toBeGreaterThan(
        0,
      );
      expect(r.stats.end.bsp.failed).toBeGreaterThan(0);
      expect(r.diagAll.exportFailed.join('\n')).toContain(`HTTP ${status}`);
    });
  }

  it('collector slower than the export timeout: the attempt is abandoned at the deadline, not retried', async () => {
    const r = await fault('slow', { delay: TIMEOUT_MS + 1500 });
    commonGuarantees(r);
    expect(r.attempts.bodies).toBeGreaterThan(0);
    // The deadline covers the whole export: an attempt cut at the deadline leaves no time to retry.
    expect(r.attempts.retriedAfterFault).toBe(0);
    // The late answers found the exporter gone: nothing was delivered twice or counted as delivered.
    expect(r.collector.end.abandonedSpans).toBeGreaterThan(0);
    expect(r.stats.end.bsp.failed).toBeGreaterThan(0);
  });

  it('collector accepts and never answers (hang): the attempt ends at the deadline, not retried while hanging', async () => {
    const r = await fault('hang');
    commonGuarantees(r);
    expect(r.attempts.bodies).toBeGreaterThan(0);
    // A hung attempt uses up the export's deadline. (When the collector comes back it closes the hung
    // connections: an export still inside its deadline then retries, as for any network error.)
    expect(r.attempts.maxFaultAttempts).toBe(1);
    expect(r.stats.end.bsp.failed).toBeGreaterThan(0);
  });

  it('collector resets the connection mid-body: retried as a network error, never past the deadline', async () => {
    const r = await fault('reset');
    commonGuarantees(r);
    expect(r.attempts.retried).toBeGreaterThan(0);
    expect(r.stats.end.bsp.failed).toBeGreaterThan(0);
  });
});

/**
 * Graceful shutdown and burst (issue #8), short form. The app (src/reliability/app.cjs) has no
 * signal handler of its own: what is tested is tracewire's SIGTERM handling from `start()`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error untyped JavaScript module shared with the long form
import { runBurst, runShutdown, startCollector } from '../src/reliability/harness.mjs';

const TIMEOUT_MS = 3000;
/**
 * The process must be gone within the export timeout; this much more is allowed for the kernel and
 * Node to tear the process down on a loaded machine (it is not a speed figure: the long form
 * reports the measured times).
 */
const EXIT_SLACK_MS = 1500;

// biome-ignore lint/suspicious/noExplicitAny: the harness is plain JavaScript
let collector: any;
beforeAll(async () => {
  collector = await startCollector();
});
afterAll(async () => {
  await collector?.stop();
});

describe('graceful shutdown on SIGTERM (tracewire is the only listener)', { timeout: 60_000 }, () => {
  it('every span accepted before the signal reaches a live collector, within the export timeout', async () => {
    const r = await runShutdown({ collectorMode: 'ok', requests: 1500, timeoutMs: TIMEOUT_MS, collector });
    expect(r.requestsOk).toBe(1500);
    expect(r.accepted).toBe(1500);
    // All of them were still queued when the signal came.
    expect(r.queuedAtSignal).toBe(1500);
    expect(r.exportedBeforeSignal).toBe(0);
    // ... and every one arrived, exactly once.
    expect(r.received, r.stderr).toBe(1500);
    // The process ended by the same signal, as it would without tracewire.
    expect(r.exit.signal).toBe('SIGTERM');
    expect(r.exit.ms).toBeLessThan(TIMEOUT_MS + EXIT_SLACK_MS);
  });

  it('SIGINT (Ctrl+C) does the same: every queued span delivered, then the process ends by SIGINT', async () => {
    const r = await runShutdown({
      collectorMode: 'ok',
      requests: 300,
      timeoutMs: TIMEOUT_MS,
      collector,
      signal: 'SIGINT',
    });
    expect(r.queuedAtSignal).toBe(300);
    expect(r.received, r.stderr).toBe(300);
    expect(r.exit.signal).toBe('SIGINT');
    expect(r.exit.ms).toBeLessThan(TIMEOUT_MS + EXIT_SLACK_MS);
  });

  for (const mode of ['down', 'hang']) {
    it(`with a dead collector (${mode}) the process still exits within the export timeout`, async () => {
      const r = await runShutdown({ collectorMode: mode, requests: 300, timeoutMs: TIMEOUT_MS, collector });
      expect(r.accepted).toBe(300);
      expect(r.received).toBe(0);
      expect(r.exit.signal).toBe('SIGTERM');
      expect(r.exit.ms).toBeLessThan(TIMEOUT_MS + EXIT_SLACK_MS);
    });
  }
});

describe('burst: 100,000 spans within one second, default queue (2048)', { timeout: 60_000 }, () => {
  it('no crash, bounded memory, exported + dropped = created exactly', async () => {
    // In 10 slices of 10,000 spans, each created without yielding: more than the queue (2048) and
    // two exports in flight (2 × 512) can take whatever the exporter's speed. In 100 slices of 1,000
    // the export has kept up on this machine (0 dropped), and the overflow is what is tested here.
    const r = await runBurst({ spans: 100_000, ticks: 10, collector });
    expect(r.code, r.stderr).toBe(0);
    const { report } = r;
    expect(report.created).toBe(100_000);
    expect(report.settings.maxQueueSize).toBe(2048);
    const s = report.stats;
    expect(s.accepted).toBe(100_000);
    expect(s.queued + s.exporting).toBe(0);
    expect(s.failed).toBe(0);
    expect(s.exported + s.dropped).toBe(100_000);
    // The queue overflowed (that is the point of the burst) and the drops were counted.
    expect(s.dropped).toBeGreaterThan(0);
    // The collector received exactly what the processor counts as exported.
    expect(r.collector.spans).toBe(s.exported);
    // Memory: the queue bound (2048 spans × ≈600 B) plus 2 exports of 512 spans in flight is about
    // 2 MiB; the rest of the growth is V8's young generation under this allocation rate (≈30 MiB
    // measured). Retaining the 100,000 spans would add ~60 MiB on top of that.
    expect(report.rssMax - report.rssBefore).toBeLessThan(64);
  });
});

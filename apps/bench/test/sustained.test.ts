/**
 * The overhead benchmark's sustained-load phase, end to end on real Express servers, a real sink
 * and the real load generators: each of its slices must run on a server process of its own (a
 * server of the sliced phases has idled between its slices, and V8's memory reducer has shrunk its
 * heap), and the spans those servers export must still be counted against their configuration.
 */
import { describe, expect, it } from 'vitest';
// @ts-expect-error untyped JavaScript module shared with the overhead benchmark
import { runOverhead } from '../src/overhead/run.mjs';

interface Row {
  mode: string;
  pid: number;
  phase?: string;
  rate?: number;
  answered: number;
  spansPerRequest: number;
  markCompacts: number;
  markCompactLines: string[];
}

describe('runOverhead, sustained phase', () => {
  it('gives every sustained slice a fresh server, and counts its spans for its configuration', async () => {
    const { runs, summary } = (await runOverhead({
      frameworks: ['express'],
      modes: ['bare', 'tracewire'],
      rounds: 1,
      seconds: 1,
      warmupSeconds: 0.5,
      latencyRounds: 1,
      latencyWarmupSeconds: 0.5,
      latencyMaxRate: 1000,
      sustainedRounds: 2,
      sustainedSeconds: 1,
      sustainedWarmupSeconds: 0.5,
      log: () => {},
    })) as { runs: Row[]; summary: Record<string, number | string>[] };

    for (const mode of ['bare', 'tracewire']) {
      const rows = runs.filter((r) => r.mode === mode);
      const saturated = rows.filter((r) => r.rate === undefined);
      const sliced = rows.filter((r) => r.phase === 'fixed');
      const sustained = rows.filter((r) => r.phase === 'sustained');
      expect([saturated.length, sliced.length, sustained.length]).toEqual([1, 1, 2]);
      // The sliced phase loads the saturation phase's server; each sustained slice its own.
      const pid = saturated[0]?.pid;
      expect(sliced[0]?.pid).toBe(pid);
      const pids = new Set([pid, ...sustained.map((r) => r.pid)]);
      expect(pids.size).toBe(3);
      for (const r of sustained) {
        expect(r.answered).toBeGreaterThan(0);
        expect(r.markCompactLines).toHaveLength(r.markCompacts);
      }
    }
    // Every traced request's span reached the sink, the fresh servers' included: were their spans
    // counted and their requests not (or the reverse), this would be far from 1.
    const traced = summary.find((s) => s.mode === 'tracewire');
    expect(traced?.spansPerRequest).toBeCloseTo(1, 1);
    expect(summary.find((s) => s.mode === 'bare')?.spansPerRequest).toBe(0);
    expect(traced?.sustainedSlices).toBe(2);
    expect(Number.isFinite(traced?.sustainedP99Ratio)).toBe(true);
  }, 120_000);
});

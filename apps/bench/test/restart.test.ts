/**
 * The overhead benchmark's `restartEvery`, end to end on real Express servers, a real sink and the
 * real load generator: throughput rounds move to fresh server processes every `restartEvery`
 * rounds, and the spans of every process still count for its configuration.
 */
import { describe, expect, it } from 'vitest';
// @ts-expect-error untyped JavaScript module shared with the overhead benchmark
import { runOverhead } from '../src/overhead/run.mjs';

interface Row {
  mode: string;
  pid: number;
  round: number;
  rate?: number;
  answered: number;
}

describe('runOverhead, restartEvery', () => {
  it('runs every two throughput rounds on fresh servers, and counts every process spans', async () => {
    const { runs, summary } = (await runOverhead({
      frameworks: ['express'],
      modes: ['bare', 'tracewire'],
      rounds: 4,
      restartEvery: 2,
      seconds: 0.5,
      warmupSeconds: 0.3,
      latencyRounds: 0,
      sustainedRounds: 0,
      log: () => {},
    })) as { runs: Row[]; summary: Record<string, number | string>[] };

    for (const mode of ['bare', 'tracewire']) {
      const rows = runs.filter((r) => r.mode === mode && r.rate === undefined);
      expect(rows.map((r) => r.round)).toEqual([0, 1, 2, 3]);
      const pids = rows.map((r) => r.pid);
      // Rounds 0 and 1 on one process, 2 and 3 on another.
      expect(pids[0]).toBe(pids[1]);
      expect(pids[2]).toBe(pids[3]);
      expect(pids[2]).not.toBe(pids[0]);
      for (const r of rows) expect(r.answered).toBeGreaterThan(0);
    }
    // Spans of the first processes (flushed as they stopped) and of the second ones, against the
    // requests of both: were either process's spans or requests left out, this would be far from 1.
    expect(summary.find((s) => s.mode === 'tracewire')?.spansPerRequest).toBeCloseTo(1, 1);
    expect(summary.find((s) => s.mode === 'bare')?.spansPerRequest).toBe(0);
  }, 120_000);
});

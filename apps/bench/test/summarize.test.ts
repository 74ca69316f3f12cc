/**
 * The overhead benchmark's summary: which slices feed which figures. Saturation slices give the
 * throughput ratios, the sliced fixed-load phase the `fixed*` latency figures and the sustained phase
 * the `sustained*` ones; runs saved before the sustained phase existed (fixed-load rows without a
 * phase) must still render as they did.
 */
import { describe, expect, it } from 'vitest';
// @ts-expect-error untyped JavaScript module shared with the overhead benchmark
import { summarize } from '../src/overhead/run.mjs';

type Row = Record<string, unknown>;
const slice = (mode: string, round: number, extra: Row): Row => ({
  framework: 'fastify',
  mode,
  round,
  rps: 1000,
  p50: 1,
  p99: 2,
  cpu: 1,
  cpuUs: 10,
  peakRss: 100,
  spansPerRequest: 1,
  errors: 0,
  markCompacts: 0,
  loaderStall: 1,
  ...extra,
});

const saturation = [0, 1, 2].flatMap((round) => [
  slice('bare', round, { rps: 10_000 }),
  slice('tracewire', round, { rps: 8_000 }),
]);

describe('summarize', () => {
  it('keeps the sliced and the sustained fixed-load phases apart, each against bare of its own round', () => {
    const fixed = [0, 1, 2].flatMap((round) => [
      slice('bare', round, { rate: 5000, phase: 'fixed', p99: 2 }),
      // One mark-compact in round 1 makes that slice slow.
      slice('tracewire', round, {
        rate: 5000,
        phase: 'fixed',
        p99: round === 1 ? 40 : 6,
        markCompacts: round === 1 ? 1 : 0,
      }),
    ]);
    const sustained = [0, 1].flatMap((round) => [
      slice('bare', round, { rate: 5000, phase: 'sustained', p99: 3 }),
      slice('tracewire', round, {
        rate: 5000,
        phase: 'sustained',
        p99: 3.3,
        loaderStall: round === 0 ? 12 : 2,
      }),
    ]);
    const [bare, traced] = summarize([...saturation, ...fixed, ...sustained]);

    expect(bare.mode).toBe('bare');
    expect(traced.rpsRatio).toBeCloseTo(0.8);
    // Sliced: ratios 3, 20, 3 → median 3; one slice of three held a mark-compact.
    expect(traced.fixedP99).toBe(6);
    expect(traced.fixedP99Ratio).toBeCloseTo(3);
    expect(traced.fixedSlicesWithMarkCompact).toBe(1);
    expect(traced.fixedSlices).toBe(3);
    // Sustained: its own rows only (a mix with the sliced ones would give a median of 6).
    expect(traced.sustainedP99).toBeCloseTo(3.3);
    expect(traced.sustainedP99Ratio).toBeCloseTo(1.1);
    expect(traced.sustainedSlices).toBe(2);
    expect(traced.sustainedSlicesWithMarkCompact).toBe(0);
    expect(traced.sustainedSlicesLoaderStalled).toBe(1);
    expect(bare.sustainedP99Ratio).toBe(1);
  });

  it('reads fixed-load rows saved without a phase as the sliced phase, and gives NaN for a phase that did not run', () => {
    const old = [0, 1, 2].flatMap((round) => [
      slice('bare', round, { rate: 5000, p99: 2, markCompacts: undefined }),
      slice('tracewire', round, { rate: 5000, p99: 5, markCompacts: undefined }),
    ]);
    const [, traced] = summarize([...saturation, ...old]);
    expect(traced.fixedP99Ratio).toBeCloseTo(2.5);
    // No mark-compact count in those rows: the table leaves its columns out.
    expect(traced.fixedSlices).toBe(0);
    expect(traced.sustainedRate).toBeNaN();
    expect(traced.sustainedP99Ratio).toBeNaN();
  });
});

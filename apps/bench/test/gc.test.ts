/**
 * Garbage collection in the benchmarks. gc.mjs, the old-space growth measure, end to end on real
 * benchmark servers: it must find the garbage collections of each configuration in V8's output, and
 * `--sample` must say where the promoted bytes were allocated. And the overhead benchmark's count of
 * mark-compacts per slice, from a real V8's `--trace-gc` output.
 */
import { execFile } from 'node:child_process';
import { describe, expect, it } from 'vitest';
// @ts-expect-error untyped JavaScript module shared with the overhead benchmark
import { countMarkCompacts } from '../src/overhead/run.mjs';
import { runScript } from './run-script.js';

const run = (args: string[]): Promise<string> => runScript('gc.mjs', args, 120_000);

/** gc.mjs on Express bare and traced, one short round at 2,000 req/s, with `sampler`. */
const runExpress = (sampler: string) =>
  run([
    '--frameworks',
    'express',
    '--modes',
    'bare,tracewire',
    '--rate',
    '2000',
    '--seconds',
    '1',
    '--warmup',
    '1',
    '--rounds',
    '1',
    sampler,
  ]);

describe('gc.mjs', () => {
  it('counts each configuration’s scavenges and promoted bytes, and samples where they were allocated', async () => {
    const out = await runExpress('--sample');
    const rows = out
      .split('\n')
      .filter((l) => l.startsWith('| express |'))
      .map((l) => l.split('|').map((c) => c.trim()));
    expect(rows.map((r) => r[2])).toEqual(['bare', 'tracewire']);
    for (const r of rows) {
      const [allocatedKB, scavengesPerSecond, pauseMsPerS, promotedKBps, perScavenge] = [
        r[3],
        r[4],
        r[5],
        r[6],
        r[7],
      ].map(Number);
      // 2,000 requests a second for two seconds allocate megabytes: V8 scavenged, and we read it.
      expect(scavengesPerSecond).toBeGreaterThan(0);
      expect(pauseMsPerS).toBeGreaterThan(0);
      // Node's HTTP server alone allocates kilobytes per request (a request, a response, headers).
      expect(allocatedKB).toBeGreaterThan(0.5);
      expect(allocatedKB).toBeLessThan(1000);
      expect(promotedKBps).toBeGreaterThanOrEqual(0);
      expect(Number.isFinite(perScavenge)).toBe(true);
    }
    // The sampler wrote the traced server's allocation stacks: at least one, with its size.
    const section = out.slice(out.indexOf('express tracewire:'));
    expect(section).toMatch(/KB sampled that survived scavenges/);
    expect(section.split('\n')[1]).toMatch(/^\s+\d+ KB {2}\S/);
  }, 150_000);

  it('with --sample-all, says how many bytes a request allocates and where, garbage included', async () => {
    const out = await runExpress('--sample-all');
    const perRequest = (mode: string) => {
      const m = new RegExp(
        `express ${mode}: (\\d+) bytes per request sampled, every allocation kept \\((\\d+) requests\\)`,
      ).exec(out);
      expect(m, out).not.toBeNull();
      return { bytes: Number(m![1]), requests: Number(m![2]) };
    };
    const bare = perRequest('bare');
    const traced = perRequest('tracewire');
    // The paced load's unmeasured and measured seconds ran under the sampler: thousands of requests.
    expect(bare.requests).toBeGreaterThan(1000);
    // Node's HTTP server and Express allocate kilobytes per request; garbage included, the sampled
    // bytes cannot be a few survivors' worth (what --sample reports).
    expect(bare.bytes).toBeGreaterThan(1000);
    expect(bare.bytes).toBeLessThan(1_000_000);
    expect(traced.bytes).toBeGreaterThan(1000);
    const section = out.slice(out.indexOf('express tracewire:'));
    expect(section.split('\n')[1]).toMatch(/^\s+\d+ B\/request {2}\S/);
    expect(out).not.toMatch(/survived scavenges/);
  }, 150_000);
});

describe('countMarkCompacts (the overhead benchmark’s servers run with --trace-gc --trace-gc-ignore-scavenger)', () => {
  it('counts the mark-compacts a real process ran, and not its scavenges', async () => {
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(
        process.execPath,
        [
          '--trace-gc',
          '--trace-gc-ignore-scavenger',
          '--expose-gc',
          '-e',
          "gc(); gc({ type: 'minor' }); gc({ type: 'minor' }); gc();",
        ],
        (err, out) => (err ? reject(err) : resolve(out)),
      );
    });
    expect(countMarkCompacts(stdout)).toBe(2);
    expect(countMarkCompacts('')).toBe(0);
  });
});

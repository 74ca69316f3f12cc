/**
 * `npm run bench -- --render <saved run>` describes a saved run with the options it ran with, which
 * the run saves beside its rows, not with today's defaults: the sustained phase's warm-up default
 * went from 8 s to 30 s, and a run measured with 8 s must still say 8 s.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
// @ts-expect-error untyped JavaScript module shared with the overhead benchmark
import { summarize } from '../src/overhead/run.mjs';

const run = promisify(execFile);
const cli = join(__dirname, '..', 'src', 'cli.mjs');
const dir = mkdtempSync(join(tmpdir(), 'tw-render-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Row = Record<string, unknown>;
const row = (mode: string, round: number, extra: Row): Row => ({
  framework: 'fastify',
  mode,
  round,
  rps: 1000,
  answered: 1000,
  p50: 1,
  p99: 2,
  cpu: 0.5,
  cpuUs: 10,
  peakRss: 100,
  spansPerRequest: mode === 'bare' ? 0 : 1,
  errors: 0,
  markCompacts: 0,
  loaderStall: 1,
  ...extra,
});

function savedRun(settings: Row | undefined): string {
  const runs = [0, 1].flatMap((round) =>
    ['bare', 'tracewire'].flatMap((mode) => [
      row(mode, round, {}),
      row(mode, round, { rate: 500, phase: 'fixed' }),
      row(mode, round, { rate: 500, phase: 'sustained' }),
    ]),
  );
  const file = join(dir, `run-${settings === undefined ? 'old' : 'new'}.json`);
  const entry = {
    node: 'v24.0.0',
    date: '2026-12-07T00:00:00.000Z',
    settings,
    summary: summarize(runs),
    runs,
  };
  writeFileSync(file, JSON.stringify([entry], null, 2));
  return file;
}

const sustainedHeading = (out: string) => /Latency under sustained load \([^)]*\)/.exec(out)?.[0] ?? '';

describe('--render', () => {
  it('describes a saved run with the settings saved in it, not with the defaults', async () => {
    const file = savedRun({
      rounds: 2,
      seconds: 3,
      warmupSeconds: 1,
      latencyRounds: 2,
      latencyWarmupSeconds: 1,
      latencyMaxRate: 500,
      sustainedRounds: 2,
      sustainedSeconds: 9,
      sustainedWarmupSeconds: 8,
    });
    const { stdout } = await run(process.execPath, [cli, '--render', file, '--no-docs', '--node', '20']);
    expect(sustainedHeading(stdout)).toContain('loaded 8 s unmeasured and then 9 s measured');
    expect(sustainedHeading(stdout)).toContain('2 rounds');
    expect(stdout).toMatch(/\| fastify \| tracewire \| 1000 \| \*\*1\.00\*\*/);
  }, 60_000);

  it('falls back to the options given for a run saved without settings', async () => {
    const file = savedRun(undefined);
    const { stdout } = await run(process.execPath, [
      cli,
      '--render',
      file,
      '--no-docs',
      '--node',
      '20',
      '--sustained-warmup',
      '5',
      '--sustained-rounds',
      '2',
    ]);
    expect(sustainedHeading(stdout)).toContain('loaded 5 s unmeasured and then 12 s measured');
  }, 60_000);
});

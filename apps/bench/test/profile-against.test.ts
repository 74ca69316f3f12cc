/**
 * profile.mjs `--against`, end to end: a real Express server profiled bare and then traced (real
 * `node --cpu-prof`, real load), the second run compared with the first by function. What tracing
 * adds must show up as tracewire's own functions, and the busy time per request must grow.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runScript } from './run-script.js';

const run = (args: string[]): Promise<string> => runScript('profile.mjs', args, 120_000);

describe('profile.mjs --against', () => {
  it('prints what a traced server spends per request beyond a bare one, by function', async () => {
    const out = mkdtempSync(join(tmpdir(), 'tw-profile-test-'));
    const common = ['--framework', 'express', '--duration', '2', '--warmup', '0.5', '--out', out];
    const bare = await run([...common, '--mode', 'bare']);
    const bareFile = /^profile: (.+\.cpuprofile)$/m.exec(bare)?.[1];
    expect(bareFile).toBeDefined();
    const saved = JSON.parse(readFileSync(join(bareFile!, '..', 'summary.json'), 'utf8'));
    expect(saved).toMatchObject({ framework: 'express', mode: 'bare' });
    expect(saved.requests).toBeGreaterThan(1000);

    const traced = await run([...common, '--mode', 'tracewire', '--against', bareFile!, '--top', '40']);
    const head = /busy (\d+) -> (\d+) ns per request \((-?\d+) more/.exec(traced);
    expect(head).not.toBeNull();
    const [, before, after, more] = head!.map(Number);
    expect(Math.abs(after! - before! - more!)).toBeLessThanOrEqual(1); // each figure rounded on its own
    expect(more).toBeGreaterThan(0);
    // tracewire's own functions (the core's span start and encoder) are among those that grew,
    // from nothing in the bare server
    // and their package is among the areas that grew
    const areas = traced.split('\nthe 15 areas that grew most')[1]!.split('\nthe 40 functions')[0]!;
    expect(areas).toMatch(/\d+ {2}@tracewire\/core\n/);
    const grown = traced.split('\nthe 40 functions that grew most')[1]!.split('\nand the 5')[0]!;
    const ours = grown
      .split('\n')
      .filter((l) =>
        /\s0 ->\s+\d+\s+(begin|#start|startAttributes|putSpanAttributes|putSpan|Span)\s/.test(l),
      );
    expect(ours.length).toBeGreaterThan(0);
  }, 180_000);
});

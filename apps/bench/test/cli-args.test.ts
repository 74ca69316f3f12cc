/**
 * `npm run bench` takes over an hour: a mistyped option must stop it before anything runs, and
 * `--help` must print the options instead of starting a full run (it once did).
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const cli = join(__dirname, '..', 'src', 'cli.mjs');
const bench = (...args: string[]) =>
  spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 30_000 });

describe('bench command line', () => {
  it('--help prints the options and runs nothing', () => {
    const r = bench('--help');
    expect(r.status).toBe(0);
    for (const option of ['--quick', '--rounds', '--modes', '--restart-every', '--render', '--no-docs']) {
      expect(r.stdout).toContain(option);
    }
    expect(r.stdout).toContain('floor');
    expect(r.stdout).not.toMatch(/Node v\d+/); // a run starts by naming its Node
  });

  it.each([
    [['--bogus'], 'unknown option --bogus'],
    [['--quick', 'extra'], 'unknown option extra'],
    [['--rounds'], '--rounds needs a value'],
    [['--rounds', '--quick'], '--rounds needs a value'],
    [['--quick', '--rounds', 'three'], '--rounds takes a number of 0 or more, not "three"'],
    [['--quick', '--duration', '-1'], '--duration takes a number of 0 or more'],
    [['--quick', '--bundle', 'nope'], '--bundle takes label=<path>, not "nope"'],
    [['--quick', '--bundle', 'x=does-not-exist.cjs'], '--bundle x: no file at'],
  ])('%j stops with an error before anything runs', (args, message) => {
    const r = bench(...args);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(message);
    expect(r.stdout).toBe('');
  });
});

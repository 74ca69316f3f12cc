#!/usr/bin/env node
// The whole test run behind `npm test` (and so behind CI): build, lint, typecheck, every package's
// tests on Node 20 (the running node) and again on Node 24, packaging checks, the benchmark's quick
// mode, and the W3C Trace Context suite when a checkout is given. Every step runs; the exit code is
// non-zero when any step failed, and the last line sums the tests.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureNode24 } from './node24.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const vitest = join(root, 'node_modules', 'vitest', 'vitest.mjs');
const only = process.env.TRACEWIRE_TEST_ONLY?.split(',').filter(Boolean);

/** Published packages: packaging rules apply to these. */
const published = ['core', 'express', 'koa', 'fastify', 'nestjs'].map((p) => join(root, 'packages', p));
const viewer = join(root, 'apps', 'viewer');

/** Every workspace with tests. */
const testDirs = [
  ...readdirSync(join(root, 'packages')).map((p) => join(root, 'packages', p)),
  ...readdirSync(join(root, 'apps')).map((p) => join(root, 'apps', p)),
]
  .filter((d) => existsSync(join(d, 'package.json')))
  .filter((d) => JSON.parse(readFileSync(join(d, 'package.json'), 'utf8')).scripts?.test)
  .filter((d) => hasTests(d));

/** Node 24 re-runs the library suites (the apps run once, on Node 20). */
const node24Dirs = testDirs.filter((d) => d.includes(`${join(root, 'packages')}`));

function hasTests(dir) {
  const walk = (d, depth) => {
    if (depth > 4 || !existsSync(d)) return false;
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.name === 'node_modules' || e.name === 'dist' || e.name === 'matrix') continue;
      if (e.isDirectory() && walk(join(d, e.name), depth + 1)) return true;
      if (e.isFile() && /\.test\.(ts|mts|js|mjs)$/.test(e.name)) return true;
    }
    return false;
  };
  return walk(join(dir, 'src'), 0) || walk(join(dir, 'test'), 0);
}

const results = [];
function step(name, cmd, args, opts = {}) {
  if (only && !only.some((o) => name.startsWith(o))) return true;
  const started = Date.now();
  console.log(`\n▶ ${name}\n  $ ${[cmd, ...args].join(' ')}`);
  const r = spawnSync(cmd, args, {
    cwd: opts.cwd ?? root,
    stdio: 'inherit',
    env: { ...process.env, ...opts.env },
  });
  const ok = r.status === 0;
  const secs = ((Date.now() - started) / 1000).toFixed(1);
  results.push({ name, ok, secs });
  console.log(`${ok ? '✔' : '✘'} ${name} (${secs}s)`);
  return ok;
}

const rel = (d) => d.slice(root.length + 1);
const jsonOut = (label) => [
  `--reporter=default`,
  `--reporter=json`,
  `--outputFile.json=test-results/vitest-${label}.json`,
];

for (const d of testDirs) rmSync(join(d, 'test-results'), { recursive: true, force: true });

step('build', 'npx', ['turbo', 'run', 'build', '--output-logs=errors-only']);
step('lint', 'npx', ['biome', 'check', '.']);
step('typecheck', 'npx', ['turbo', 'run', 'typecheck', '--output-logs=errors-only']);

for (const d of testDirs)
  step(`test node20 ${rel(d)}`, process.execPath, [vitest, 'run', ...jsonOut('node20')], { cwd: d });

const node24 = ensureNode24();
if (node24 && existsSync(node24)) {
  for (const d of node24Dirs)
    step(`test node24 ${rel(d)}`, node24, [vitest, 'run', ...jsonOut('node24')], { cwd: d });
} else {
  results.push({ name: 'test node24 (no Node 24 binary for this platform)', ok: false, secs: '0' });
}

for (const d of [...published, viewer]) {
  // The viewer is an ESM-only command-line app with a programmatic API; the libraries ship ESM and CJS.
  const profile = d === viewer ? 'esm-only' : 'node16';
  step(`package ${rel(d)}: publint`, 'npx', ['publint', '--strict'], { cwd: d });
  step(`package ${rel(d)}: attw`, 'npx', ['attw', '--pack', '.', '--profile', profile], { cwd: d });
  step(`package ${rel(d)}: contents`, process.execPath, [join(root, 'scripts', 'check-pack.mjs')], {
    cwd: d,
  });
}

if (existsSync(join(root, 'apps', 'bench', 'package.json'))) {
  const bench = JSON.parse(readFileSync(join(root, 'apps', 'bench', 'package.json'), 'utf8'));
  if (bench.scripts?.bench)
    step('bench --quick (works end to end; speed not judged)', 'npm', [
      'run',
      'bench',
      '-w',
      '@tracewire/bench',
      '--',
      '--quick',
    ]);
}
if (existsSync(join(root, 'scripts', 'w3c-conformance.mjs'))) {
  step('W3C Trace Context suite (needs W3C_TRACE_CONTEXT_DIR)', process.execPath, [
    join(root, 'scripts', 'w3c-conformance.mjs'),
  ]);
}

// Sum the tests from every vitest JSON report.
let passed = 0;
let failed = 0;
let skipped = 0;
for (const d of testDirs) {
  for (const label of ['node20', 'node24']) {
    const f = join(d, 'test-results', `vitest-${label}.json`);
    if (!existsSync(f)) continue;
    try {
      const j = JSON.parse(readFileSync(f, 'utf8'));
      passed += j.numPassedTests ?? 0;
      failed += j.numFailedTests ?? 0;
      skipped += (j.numPendingTests ?? 0) + (j.numTodoTests ?? 0);
    } catch {
      failed++;
    }
  }
}

console.log('\nSummary');
for (const r of results) console.log(`  ${r.ok ? '✔' : '✘'} ${r.name} (${r.secs}s)`);
const badSteps = results.filter((r) => !r.ok).length;
if (badSteps) console.log(`\n${badSteps} step(s) failed.`);
console.log(`\ntests: ${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(badSteps || failed ? 1 : 0);

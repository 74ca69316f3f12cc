#!/usr/bin/env node
// `npm run bench` (root): request overhead of tracewire against bare servers and the official
// OpenTelemetry stack, on Node 20 and Node 24, written to docs/performance.md with a PNG chart.
//
//   npm run bench                      full run: 5 frameworks x 4 configs x 8 rounds x 2 s, Node 20 and 24
//   npm run bench -- --quick           proves the benchmark works end to end (Express, 1 round, 1 s)
//   options: --node 20,24  --frameworks express,koa  --rounds 5  --duration 10  --warmup 2  --no-docs
//            --latency-rounds 8 (rounds of the fixed-load latency phase, default: --rounds; 0 skips it)
//            --latency-warmup 1 (seconds at the fixed load before each measured slice, not measured)
//            --latency-max-rate 20000 (the fixed load is half of bare's req/s, at most this)
//            --sustained-rounds 3 --sustained-duration 12 --sustained-warmup 30 (the sustained-load
//              phase: the same fixed load for longer without a break; rounds 0 skips it)
//            --restart-every 2 (fresh server processes every 2 throughput rounds; default 0: one
//              process per configuration for the whole run)
//            --render <results.json> (no run: write the tables, docs and chart of a saved run, e.g.
//              apps/bench/results/overhead.json; a run saves the options it ran with, and those
//              are used; for a run saved without them, pass the ones it ran with)
//            --modes bare,tracewire,tracewire-unsampled,official (the default), and the reference
//              configurations als-only, floor and tracewire-noexport (docs/performance.md)
//            --modes bare,tracewire,tracewire@before --bundle before=<path> (relative to the current directory)
//              (a mode `x@label` runs configuration x with tracewire from that bundle, which
//               `node src/overhead/instructions.mjs --source --bundle-only` builds from the working
//               tree and prints the path of: compares two builds side by side in one run)
import { execSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FRAMEWORKS, LOADER_STALL_MS, loader, MODES, phaseOf, runOverhead } from './overhead/run.mjs';
import { renderChartPng } from './overhead/chart.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..', '..');
const args = process.argv.slice(2);
const flag = (name) => args.includes(`--${name}`);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1] : def;
};

/** Options that take a value, and those that do not; anything else is a mistake, not a run. */
const VALUE_OPTIONS = new Set([
  'node',
  'frameworks',
  'modes',
  'rounds',
  'duration',
  'warmup',
  'latency-rounds',
  'latency-warmup',
  'latency-max-rate',
  'sustained-rounds',
  'sustained-duration',
  'sustained-warmup',
  'restart-every',
  'render',
  'bundle',
]);
const NUMBER_OPTIONS = new Set(
  [...VALUE_OPTIONS].filter((o) => !['node', 'frameworks', 'modes', 'render', 'bundle'].includes(o)),
);
const FLAGS = new Set(['quick', 'no-docs']);

/** A mistake on the command line: said, and the run does not start. */
function fail(why) {
  console.error(`bench: ${why} (--help lists the options)`);
  process.exit(2);
}

/**
 * `--help` prints the usage above and exits; an unknown option, or one without its value, exits
 * with an error before anything runs (a full run takes over an hour: a typo must not start one).
 */
function checkArgs(argv) {
  if (argv.includes('--help') || argv.includes('-h')) {
    const usage = [];
    for (const line of readFileSync(fileURLToPath(import.meta.url), 'utf8')
      .split('\n')
      .slice(1)) {
      if (!line.startsWith('//')) break;
      usage.push(line.slice(3));
    }
    console.log(usage.join('\n'));
    process.exit(0);
  }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const name = a.startsWith('--') ? a.slice(2) : undefined;
    if (name !== undefined && FLAGS.has(name)) continue;
    if (name === undefined || !VALUE_OPTIONS.has(name)) fail(`unknown option ${a}`);
    const value = argv[++i];
    if (value === undefined || value.startsWith('--')) fail(`--${name} needs a value`);
    if (NUMBER_OPTIONS.has(name) && !(Number.isFinite(Number(value)) && Number(value) >= 0)) {
      fail(`--${name} takes a number of 0 or more, not ${JSON.stringify(value)}`);
    }
  }
}

checkArgs(args);
const quick = flag('quick');
const { ensureNode24 } = await import(join(root, 'scripts', 'node24.mjs'));
const node24 = opt('node', '').includes('24') || !quick ? ensureNode24() : undefined;
const nodes = opt('node', quick ? '20' : node24 && existsSync(node24) ? '20,24' : '20')
  .split(',')
  .map((v) => v.trim());
const nodeBin = (v) => (v === '24' ? node24 : process.execPath);
const frameworks = opt('frameworks', quick ? 'express' : FRAMEWORKS.join(',')).split(',');
const modes = opt('modes', MODES.join(',')).split(',');
// How a run runs. Saved with its results, so that --render describes a saved run with the options
// it ran with, whatever today's defaults are (see below).
const cliRounds = Number(opt('rounds', quick ? 1 : 8));
const cliSettings = {
  rounds: cliRounds,
  seconds: Number(opt('duration', quick ? 1 : 2)),
  warmupSeconds: Number(opt('warmup', quick ? 0.5 : 2)),
  // The fixed-load latency phase: as many rounds as the saturation phase (a p99 of one 2 s slice on
  // a shared VM moves by several milliseconds; its median over rounds is what is compared).
  latencyRounds: Number(opt('latency-rounds', cliRounds)),
  latencyWarmupSeconds: Number(opt('latency-warmup', quick ? 0.5 : 1)),
  // The fixed load is half of bare's saturated req/s, at most this (what paced.mjs sends steadily).
  latencyMaxRate: Number(opt('latency-max-rate', 20_000)),
  // The sustained-load phase: fewer, longer slices, each after a longer unmeasured warm-up. 30 s: a
  // fresh server's heap is still growing for its first ~20 s under load, and the mark-compacts of
  // that growth fell in the measured seconds with 8 s (docs/performance.md, "Eighth pass").
  sustainedRounds: Number(opt('sustained-rounds', quick ? 1 : 3)),
  sustainedSeconds: Number(opt('sustained-duration', quick ? 1 : 12)),
  sustainedWarmupSeconds: Number(opt('sustained-warmup', quick ? 0.5 : 30)),
  // Fresh server processes every this many throughput rounds (0: never): one process can be ~10%
  // faster or slower than another of the same code for all its rounds (docs/performance.md,
  // "Tenth pass").
  restartEvery: Number(opt('restart-every', 0)),
};
// label=path; the path is taken from the current directory (the servers run elsewhere), and checked now.
const bundles = Object.fromEntries(
  args.flatMap((a, i) => {
    if (a !== '--bundle' || !args[i + 1]) return [];
    const [label, path] = args[i + 1].split('=');
    if (!label || !path) fail(`--bundle takes label=<path>, not ${JSON.stringify(args[i + 1])}`);
    const file = resolve(path);
    if (!existsSync(file)) fail(`--bundle ${label}: no file at ${file}`);
    return [[label, file]];
  }),
);
const writeDocs = !quick && !flag('no-docs') && Object.keys(bundles).length === 0;

const version = (bin) => execSync(`${bin} --version`, { encoding: 'utf8' }).trim();
const pkgVersion = (name) => {
  try {
    return JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')).version;
  } catch {
    return '?';
  }
};

// Relative to where `npm run bench` was typed (npm runs this script in apps/bench).
const renderArg = opt('render', undefined);
const render = renderArg && resolve(process.env.INIT_CWD ?? process.cwd(), renderArg);
const results = render === undefined ? [] : JSON.parse(readFileSync(render, 'utf8'));
// A saved run's own settings win (runs saved before the eighth pass have none: pass the options
// they ran with).
const settings = { ...cliSettings, ...results[0]?.settings };
const {
  rounds,
  seconds,
  warmupSeconds,
  latencyRounds,
  latencyWarmupSeconds,
  latencyMaxRate,
  sustainedRounds,
  sustainedSeconds,
  sustainedWarmupSeconds,
  restartEvery = 0,
} = settings;
const measuredOn = (render === undefined ? new Date() : new Date(results[0]?.date ?? statSync(render).mtime))
  .toISOString()
  .slice(0, 10);
for (const v of render === undefined ? nodes : []) {
  const bin = nodeBin(v);
  console.log(
    `\nNode ${version(bin)}: ${frameworks.join(', ')} × ${modes.join(', ')} × ${rounds} round(s) × ${seconds} s`,
  );
  // The settings' names are runOverhead's options.
  const r = await runOverhead({ nodeBin: bin, frameworks, modes, ...settings, bundles });
  results.push({ node: version(bin), date: new Date().toISOString(), settings, ...r });
}

const f2 = (x) => (Number.isFinite(x) ? x.toFixed(2) : 'n/a');
const f0 = (x) => (Number.isFinite(x) ? x.toFixed(0) : 'n/a');
// One latency phase's table (`prefix`: the summary's `fixed*` or `sustained*` figures); empty when
// the phase did not run. Runs saved before slices counted V8's mark-compacts render without those
// columns.
function latencyTable(summary, prefix, heading) {
  const rows = summary.filter((s) => Number.isFinite(s[`${prefix}Rate`]));
  if (rows.length === 0) return '';
  const gc = rows.some((s) => s[`${prefix}Slices`] > 0);
  let t = `\n${heading}${gc ? `; the last two columns count the slices in whose measured seconds V8 ran a mark-compact, which stalls a one-core server for tens of milliseconds, and those in which the load generator itself stalled for ${LOADER_STALL_MS} ms or more, so that the requests due meanwhile went out in one burst` : ''}):\n\n| framework | configuration | offered req/s | served req/s | server CPU | p50 ms | p99 ms | p99 ratio |${gc ? ' slices with a mark-compact | slices with a loader stall |' : ''}\n|---|---|---:|---:|---:|---:|---:|---:|${gc ? '---:|---:|' : ''}\n`;
  for (const s of rows) {
    const v = (k) => s[`${prefix}${k}`];
    t += `| ${s.framework} | ${s.mode} | ${f0(v('Rate'))} | ${f0(v('Rps'))} | ${f0(v('Cpu') * 100)}% | ${f2(v('P50'))} | ${f2(v('P99'))} | **${f2(v('P99Ratio'))}** |${gc ? ` ${v('SlicesWithMarkCompact')} of ${v('Slices')} | ${v('SlicesLoaderStalled')} of ${v('Slices')} |` : ''}\n`;
  }
  return t;
}

let md = '';
for (const r of results) {
  md += `\n#### Node ${r.node}\n\n| framework | configuration | req/s | ratio to bare | p50 ms | p99 ms | p99 ratio | server CPU | CPU µs/request | CPU ratio | peak RSS MiB | spans/request |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n`;
  for (const s of r.summary) {
    md += `| ${s.framework} | ${s.mode} | ${f0(s.rps)} | **${f2(s.rpsRatio)}** | ${f2(s.p50)} | ${f2(s.p99)} | ${f2(s.p99Ratio)} | ${f0(s.cpu * 100)}% | ${f2(s.cpuUs)} | ${f2(s.cpuRatio)} | ${f0(s.peakRss)} | ${f2(s.spansPerRequest)} |\n`;
  }
  md += latencyTable(
    r.summary,
    'fixed',
    'Latency at a fixed load (paced.mjs, open loop: the same offered rate for every configuration of a framework; latency counted from when a request fell due',
  );
  md += latencyTable(
    r.summary,
    'sustained',
    `Latency under sustained load (the same offered rate, each slice on a server of its own, loaded ${sustainedWarmupSeconds} s unmeasured and then ${sustainedSeconds} s measured without a break, in turn, ${sustainedRounds} rounds; the p99 of each slice, median over rounds`,
  );
}
console.log(md);

const outDir = join(root, 'apps', 'bench', 'results');
mkdirSync(outDir, { recursive: true });
if (render === undefined) {
  writeFileSync(
    join(outDir, quick ? 'overhead-quick.json' : 'overhead.json'),
    JSON.stringify(results, null, 2),
  );
}

// Every configuration must have served requests at saturation, and in each latency phase it took
// part in (the sliced one whenever it ran) in at least one slice: a configuration far beyond its
// capacity may answer none of a slice's measured requests (they queue behind the warm-up's), but one
// that answers nothing at all is broken.
const slicesOf = (r, s, phase) =>
  r.runs.filter((x) => x.framework === s.framework && x.mode === s.mode && phaseOf(x) === phase);
const served = (r, s, phase) => slicesOf(r, s, phase).some((x) => x.answered > 0 || x.rps > 0);
const failures = results.flatMap((r) =>
  r.summary.filter(
    (s) =>
      !(s.rps > 0) ||
      (latencyRounds > 0 && !served(r, s, 'fixed')) ||
      (slicesOf(r, s, 'sustained').length > 0 && !served(r, s, 'sustained')),
  ),
);
if (failures.length) {
  console.error(
    `benchmark produced no throughput (saturation or fixed load) for: ${failures.map((s) => `${s.framework}/${s.mode}`).join(', ')}`,
  );
  process.exit(1);
}

if (writeDocs) {
  const chart = join(root, 'docs', 'performance-overhead.png');
  const ok = await renderChartPng(results, chart);
  const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB`;
  const section = `<!-- overhead:start -->
Measured ${measuredOn} on ${machine}. One server process per configuration${restartEvery > 0 ? ` at a time (fresh ones, warmed up again, every ${restartEvery} rounds)` : ''}, all
pinned to core 0 and started together; ${loader} (50 connections) and the OTLP sink on core 1. Each
server is warmed up for ${warmupSeconds} s, then the configurations are loaded in turn for ${seconds} s each,
${rounds} rounds, the order rotating every round; medians, and ratios as the median of the per-round
ratios to bare (a slow spell of the shared machine then hits every configuration of a round alike).
Then each server gets the same fixed load, half of bare's median req/s (at most ${latencyMaxRate.toLocaleString('en-US')} req/s), from
an open-loop generator (\`paced.mjs\`, core 1) for ${latencyWarmupSeconds} s unmeasured and then ${seconds} s measured, in turn, ${latencyRounds} rounds: the latency a request
sees below saturation, counted from when the request fell due, so a server that falls behind shows it. (The unmeasured
second: just after a load starts, every server, bare ones too, stalls for several milliseconds at a time.)${sustainedRounds > 0 ? ` Last, the sustained phase: the same load on every configuration but the official stack (which cannot serve it), each slice on a server process of its own, started for it, warmed up for ${warmupSeconds} s at saturation, then loaded ${sustainedWarmupSeconds} s unmeasured and ${sustainedSeconds} s measured without a break; in turn, ${sustainedRounds} rounds. The servers of the phases before idle between their slices, and V8 shrinks an idle process's heap (its memory reducer), after which the next loads bring mark-compacts until the heap has grown back; a server under steady traffic does not see that. A fresh server's heap is still growing too, so a mark-compact can still fall in a sustained slice: the table counts them.` : ''} At saturation the p99 mostly restates the throughput: a closed-loop loader
with 50 connections sees a mean latency of 50 / req/s (Little's law). Versions: express ${pkgVersion('express')}, koa ${pkgVersion('koa')},
fastify ${pkgVersion('fastify')}, @nestjs/core ${pkgVersion('@nestjs/core')}, @opentelemetry/sdk-node
${pkgVersion('@opentelemetry/sdk-node')}, @fastify/otel ${pkgVersion('@fastify/otel')}.

Command: \`npm run bench -- --rounds ${rounds} --duration ${seconds} --warmup ${warmupSeconds} --latency-rounds ${latencyRounds} --latency-warmup ${latencyWarmupSeconds} --sustained-rounds ${sustainedRounds} --sustained-duration ${sustainedSeconds} --sustained-warmup ${sustainedWarmupSeconds}${latencyMaxRate === 20_000 ? '' : ` --latency-max-rate ${latencyMaxRate}`}${restartEvery > 0 ? ` --restart-every ${restartEvery}` : ''}\`

${ok ? '![Throughput ratio to bare](performance-overhead.png)\n' : ''}${md}
<!-- overhead:end -->`;
  const docPath = join(root, 'docs', 'performance.md');
  let doc = existsSync(docPath) ? readFileSync(docPath, 'utf8') : '# Performance\n';
  if (doc.includes('<!-- overhead:start -->')) {
    doc = doc.replace(/<!-- overhead:start -->[\s\S]*<!-- overhead:end -->/, section);
  } else {
    doc += `\n## Request overhead\n\n${section}\n`;
  }
  writeFileSync(docPath, doc);
  console.log(`wrote ${docPath}${ok ? ` and ${chart}` : ''}`);
}

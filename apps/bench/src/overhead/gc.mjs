// Old-space growth at a fixed load: how much of what a request allocates survives the young
// generation, and how often V8 then runs a mark-compact (on a server pinned to one core its
// concurrent marking shares that core, and each one stalls the event loop for tens of
// milliseconds: the fixed-load p99 tail of docs/performance.md, "Fifth pass" and "Sixth pass").
//
//   node apps/bench/src/overhead/gc.mjs [--node /path/to/node] [--frameworks fastify,express,koa]
//        [--modes bare,tracewire,tracewire-unsampled] [--bundle before=/path/to/tracewire.cjs]
//        [--rate 15000] [--seconds 10] [--rounds 3] [--warmup 3] [--sample | --sample-all]
//
// Each slice is a fresh server (server.cjs under `--trace-gc-nvp`, pinned to core 0), warmed up
// with wrk for `--warmup` seconds, then given `--rate` req/s by paced.mjs (core 1) for one
// unmeasured second and `--seconds` measured ones. The garbage collections of the paced part are
// counted: bytes allocated per request, scavenges and their pauses, bytes promoted to old space,
// mark-compacts and their pauses. Configurations
// alternate, the order rotating each round; medians over rounds. Modes and `--bundle` are those of
// the overhead benchmark (`tracewire@before` runs tracewire from the bundle labelled `before`).
//
// `--sample` also says where what survived was allocated (promoted-sampler.cjs, V8's sampling heap
// profiler without the objects scavenges free): the top allocation stacks of each configuration's
// last slice. `--sample-all` keeps every allocation instead, garbage included: where each
// configuration's bytes per request are allocated, by stack. Sampling slows the server, so the
// p99 of a sampled run means nothing.
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { load, median, rotated, serverConfig, sleep, startProcess, stopProcess } from './run.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({
  options: {
    node: { type: 'string', default: process.execPath },
    frameworks: { type: 'string', default: 'fastify,express,koa' },
    modes: { type: 'string', default: 'bare,tracewire,tracewire-unsampled' },
    bundle: { type: 'string', multiple: true, default: [] },
    rate: { type: 'string', default: '15000' },
    seconds: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '3' },
    warmup: { type: 'string', default: '3' },
    sample: { type: 'boolean', default: false },
    'sample-all': { type: 'boolean', default: false },
  },
});
const frameworks = values.frameworks.split(',');
const modes = values.modes.split(',');
const bundles = Object.fromEntries(values.bundle.map((b) => b.split('=')));
const [rate, seconds, rounds, warmup] = [values.rate, values.seconds, values.rounds, values.warmup].map(
  Number,
);

/** Sums the `--trace-gc-nvp` lines of one slice. */
function gcTotals(text) {
  const t = { scavenges: 0, promoted: 0, allocated: 0, scavengePause: 0, markCompacts: 0, pauses: [] };
  for (const line of text.split('\n')) {
    // Bytes allocated since the previous GC, whichever kind this one is.
    t.allocated += Number(/ allocated=(\d+)/.exec(line)?.[1] ?? 0);
    if (/ gc=s /.test(line)) {
      t.scavenges++;
      t.promoted += Number(/ promoted=(\d+)/.exec(line)?.[1] ?? 0);
      t.scavengePause += Number(/ pause=([\d.]+)/.exec(line)?.[1] ?? 0);
    } else if (/ gc=mc /.test(line)) {
      t.markCompacts++;
      t.pauses.push(Number(/ pause=([\d.]+)/.exec(line)?.[1] ?? Number.NaN));
    }
  }
  return t;
}

const sampleAll = values['sample-all'];
if (sampleAll && values.sample) {
  console.error('gc.mjs: --sample and --sample-all sample differently; give one of them');
  process.exit(2);
}
const sampleDir = values.sample || sampleAll ? mkdtempSync(join(tmpdir(), 'tracewire-promoted-')) : undefined;

/** The sampler's rows (see promoted-sampler.cjs), once the server has written them. */
async function sampled(file) {
  for (let i = 0; i < 100 && !existsSync(file); i++) await sleep(100);
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
}

async function slice(sinkUrl, framework, mode, n) {
  const { serverMode, env } = serverConfig(framework, mode, sinkUrl, bundles);
  const flags = ['--trace-gc-nvp'];
  if (sampleDir !== undefined) {
    env.PROMOTED_SAMPLE_OUT = join(sampleDir, `${n}.jsonl`);
    if (sampleAll) env.PROMOTED_SAMPLE_ALL = '1';
    flags.push('--expose-gc', '-r', join(here, 'promoted-sampler.cjs'));
  }
  const server = await startProcess(
    values.node,
    [...flags, join(here, 'server.cjs'), framework, serverMode],
    env,
    0,
  );
  let out = '';
  server.child.stdout.on('data', (d) => {
    out += d;
  });
  try {
    const url = `http://127.0.0.1:${server.port}/users/42`;
    await load(url, warmup, 50);
    const from = out.length;
    if (env.PROMOTED_SAMPLE_OUT) server.child.kill('SIGUSR2');
    const r = await load(url, seconds, 50, rate, 1);
    const gc = gcTotals(out.slice(from));
    if (env.PROMOTED_SAMPLE_OUT) server.child.kill('SIGUSR2');
    const stacks = env.PROMOTED_SAMPLE_OUT ? await sampled(env.PROMOTED_SAMPLE_OUT) : [];
    const secs = seconds + 1;
    return {
      framework,
      mode,
      p99: r.p99,
      scavenges: gc.scavenges,
      // What a request allocates (warm-up second included on both sides), and the share of the
      // slice the event loop stood still for scavenges.
      allocatedPerRequest: gc.allocated / Math.max(1, r.total),
      scavengePauseMsPerS: gc.scavengePause / secs,
      promotedKBps: gc.promoted / 1024 / secs,
      promotedPerScavengeKB: gc.promoted / 1024 / Math.max(1, gc.scavenges),
      markCompacts: gc.markCompacts,
      maxPause: gc.pauses.length > 0 ? Math.max(...gc.pauses) : 0,
      seconds: secs,
      // Requests served while the sampler ran (it starts before the unmeasured second).
      requests: r.total,
      stacks,
    };
  } finally {
    await stopProcess(server.child);
  }
}

const sink = await startProcess(process.execPath, [join(here, 'sink.mjs')], {}, 1);
const sinkUrl = `http://127.0.0.1:${sink.port}`;
const rows = [];
try {
  for (let round = 0; round < rounds; round++) {
    for (const framework of frameworks) {
      for (const mode of rotated(modes, round)) {
        const row = await slice(sinkUrl, framework, mode, rows.length);
        rows.push(row);
        console.error(
          `round ${round + 1}/${rounds} ${framework} ${mode}: ${row.promotedKBps.toFixed(0)} KB/s promoted, ` +
            `${row.scavenges} scavenges, ${row.markCompacts} mark-compacts, p99 ${row.p99.toFixed(2)} ms`,
        );
      }
    }
  }
} finally {
  await stopProcess(sink.child);
}

console.log(
  `\nNode ${values.node === process.execPath ? process.version : values.node}, ${rate} req/s, ` +
    `${rounds} rounds of ${seconds} + 1 s per configuration\n`,
);
console.log(
  '| framework | configuration | allocated per request KB | scavenges/s | scavenge pauses ms/s | promoted KB/s | promoted per scavenge KB | mark-compacts per minute | longest mark-compact ms | p99 ms |',
);
console.log('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const framework of frameworks) {
  for (const mode of modes) {
    const rs = rows.filter((r) => r.framework === framework && r.mode === mode);
    const minutes = rs.reduce((a, r) => a + r.seconds, 0) / 60;
    const mcs = rs.reduce((a, r) => a + r.markCompacts, 0);
    console.log(
      `| ${framework} | ${mode} | ${(median(rs.map((r) => r.allocatedPerRequest)) / 1024).toFixed(2)} | ` +
        `${median(rs.map((r) => r.scavenges / r.seconds)).toFixed(1)} | ` +
        `${median(rs.map((r) => r.scavengePauseMsPerS)).toFixed(1)} | ` +
        `${median(rs.map((r) => r.promotedKBps)).toFixed(0)} | ` +
        `${median(rs.map((r) => r.promotedPerScavengeKB)).toFixed(1)} | ${(mcs / minutes).toFixed(1)} | ` +
        `${Math.max(...rs.map((r) => r.maxPause)).toFixed(1)} | ${median(rs.map((r) => r.p99)).toFixed(2)} |`,
    );
  }
}

if (sampleDir !== undefined) {
  // `--sample`: what survived scavenges, in KB. `--sample-all`: bytes per request, every
  // allocation kept; a sample stands for ~8 KiB of allocations, so a stack needs thousands of
  // requests behind it before its figure means much.
  for (const framework of frameworks) {
    for (const mode of modes) {
      const last = rows.filter((r) => r.framework === framework && r.mode === mode).at(-1);
      const total = last.stacks.reduce((a, s) => a + s.bytes, 0);
      const n = Math.max(1, last.requests);
      const [heading, top, size] = sampleAll
        ? [
            `${(total / n).toFixed(0)} bytes per request sampled, every allocation kept (${n} requests)`,
            12,
            (bytes) => `${String(Math.round(bytes / n)).padStart(6)} B/request`,
          ]
        : [
            `${(total / 1024).toFixed(0)} KB sampled that survived scavenges`,
            8,
            (bytes) => `${String(Math.round(bytes / 1024)).padStart(6)} KB`,
          ];
      console.log(`\n${framework} ${mode}: ${heading}; top stacks (innermost first)`);
      for (const s of last.stacks.slice(0, top)) console.log(`${size(s.bytes)}  ${s.stack}`);
    }
  }
}

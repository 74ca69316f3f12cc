// Where the time of one benchmark server goes: the server (server.cjs) runs under `node --cpu-prof`
// while wrk (or autocannon) loads it, exactly as in the overhead benchmark; the V8 CPU profile is
// then summarised as self time per function and per package, and kept for a flame graph
// (open the .cpuprofile in Chrome DevTools > Performance, or https://www.speedscope.app offline copy).
//
//   node apps/bench/src/overhead/profile.mjs --framework fastify --mode tracewire
//        [--node /path/to/node] [--duration 5] [--top 30] [--out /tmp/profiles] [--interval 100 (µs)]
//        [--bundle /path/to/tracewire.cjs]   (tracewire bundled from sources, see instructions.mjs --source)
//        [--against <a previous run's profile or its directory>]
//
// `--against`: each run saves its self time per function (`summary.json` beside the profile); with
// this option the run also prints, per request, what it spent beyond that earlier run in total
// (idle excluded) and in the functions that grew most, e.g. a traced server against a bare one:
//
//   node apps/bench/src/overhead/profile.mjs --framework fastify --mode bare --duration 15
//   node apps/bench/src/overhead/profile.mjs --framework fastify --mode tracewire --duration 15 \
//        --against /tmp/tracewire-profiles/fastify-bare-<time>
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { load, startProcess, stopProcess } from './run.mjs';

const here = dirname(fileURLToPath(import.meta.url));

const { values } = parseArgs({
  options: {
    framework: { type: 'string', default: 'fastify' },
    mode: { type: 'string', default: 'tracewire' },
    node: { type: 'string', default: process.execPath },
    duration: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '1' },
    connections: { type: 'string', default: '50' },
    top: { type: 'string', default: '30' },
    interval: { type: 'string', default: '100' },
    out: { type: 'string', default: join(tmpdir(), 'tracewire-profiles') },
    bundle: { type: 'string' },
    against: { type: 'string' },
  },
});

const dir = join(values.out, `${values.framework}-${values.mode}-${Date.now()}`);
mkdirSync(dir, { recursive: true });

const sink = await startProcess(process.execPath, [join(here, 'sink.mjs')], {}, 1);
const sinkUrl = `http://127.0.0.1:${sink.port}`;
let requests = 0;
let rps = 0;
try {
  const server = await startProcess(
    values.node,
    [
      '--cpu-prof',
      '--cpu-prof-interval',
      values.interval,
      '--cpu-prof-dir',
      dir,
      join(here, 'server.cjs'),
      values.framework,
      values.mode,
    ],
    { OTLP_URL: `${sinkUrl}/v1/traces`, ...(values.bundle ? { TRACEWIRE_BUNDLE: values.bundle } : {}) },
    0,
  );
  const url = `http://127.0.0.1:${server.port}/users/42`;
  try {
    const warm = await load(url, Number(values.warmup), Number(values.connections));
    const r = await load(url, Number(values.duration), Number(values.connections));
    requests = warm.total + r.total;
    rps = r.rps;
  } finally {
    await stopProcess(server.child);
  }
} finally {
  await stopProcess(sink.child);
}

const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
if (!file) throw new Error(`no .cpuprofile written in ${dir}`);
const profile = JSON.parse(readFileSync(join(dir, file), 'utf8'));

// Self time per node: samples × interval.
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const counts = new Map();
for (const id of profile.samples) counts.set(id, (counts.get(id) ?? 0) + 1);
const totalSamples = profile.samples.length;
const micros = profile.endTime - profile.startTime;

/** A readable package/area for a script URL. */
function area(url, fn) {
  if (!url) return fn === '(garbage collector)' ? 'GC' : fn.startsWith('(') ? fn : 'native';
  if (url.startsWith('node:')) return `node:${url.slice(5).split('/')[0]}`;
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url.replaceAll('\\', '/'));
  if (m) return m[1].startsWith('@tracewire/') ? `${m[1]} (dist)` : m[1];
  if (url.includes('/packages/')) return `@tracewire/${url.split('/packages/')[1].split('/')[0]}`;
  if (url.includes('tracewire')) return 'tracewire (bundle)';
  return url.split('/').slice(-2).join('/');
}

const fnSelf = new Map();
const areaSelf = new Map();
for (const [id, c] of counts) {
  const n = byId.get(id);
  const cf = n.callFrame;
  const name = cf.functionName || '(anonymous)';
  const key = `${name}  ${cf.url ? `${cf.url.split('/').slice(-2).join('/')}:${cf.lineNumber + 1}` : ''}`;
  fnSelf.set(key, (fnSelf.get(key) ?? 0) + c);
  const a = area(cf.url, name);
  areaSelf.set(a, (areaSelf.get(a) ?? 0) + c);
}

const usPerReq = (c) => ((c / totalSamples) * micros) / Math.max(1, requests);
const pct = (c) => `${((100 * c) / totalSamples).toFixed(1)}%`;
const rows = (m, n) =>
  [...m]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([k, c]) => `${pct(c).padStart(6)}  ${usPerReq(c).toFixed(2).padStart(6)} µs/req  ${k}`);

console.log(
  `${values.framework} ${values.mode} on ${values.node}: ${rps.toFixed(0)} req/s, ${requests} requests profiled (+warm-up), ${totalSamples} samples`,
);
console.log(`profile: ${join(dir, file)}\n`);
console.log('self time by area (µs per request: profile time over every request served, warm-up included)');
console.log(rows(areaSelf, 25).join('\n'));
console.log(`\ntop ${values.top} functions by self time`);
console.log(rows(fnSelf, Number(values.top)).join('\n'));

// What this run spent per request, by function and by area (ns), saved for a later `--against`.
const nsPerReq = (m) => Object.fromEntries([...m].map(([k, c]) => [k, usPerReq(c) * 1000]));
const summary = {
  framework: values.framework,
  mode: values.mode,
  requests,
  busyNs: usPerReq(totalSamples - (areaSelf.get('(idle)') ?? 0)) * 1000,
  functions: nsPerReq(fnSelf),
  areas: nsPerReq(areaSelf),
};
writeFileSync(join(dir, 'summary.json'), JSON.stringify(summary));

/** [key, this run − the earlier run, earlier, this] for every key of either, idle left out, most grown first. */
function grownSince(before, now) {
  return [...new Set([...Object.keys(before), ...Object.keys(now)])]
    .filter((k) => !k.startsWith('(idle)'))
    .map((k) => [k, (now[k] ?? 0) - (before[k] ?? 0), before[k] ?? 0, now[k] ?? 0])
    .sort((a, b) => b[1] - a[1]);
}

if (values.against !== undefined) {
  const baseDir = statSync(values.against).isDirectory() ? values.against : dirname(values.against);
  const base = JSON.parse(readFileSync(join(baseDir, 'summary.json'), 'utf8'));
  const ns = (v) => v.toFixed(0);
  console.log(
    `\nagainst ${base.framework} ${base.mode} (${baseDir}): busy ${ns(base.busyNs)} -> ${ns(summary.busyNs)} ns per request (${ns(summary.busyNs - base.busyNs)} more; idle excluded, profiler included)`,
  );
  console.log('the 15 areas that grew most (ns per request, this run minus that one)');
  const areas = grownSince(base.areas, summary.areas).slice(0, 15);
  console.log(areas.map(([a, d]) => `${ns(d).padStart(7)}  ${a}`).join('\n'));
  const functions = grownSince(base.functions, summary.functions);
  const line = ([k, d, was, is]) =>
    `${ns(d).padStart(7)} ns/req  ${ns(was).padStart(6)} -> ${ns(is).padStart(6)}  ${k}`;
  console.log(`the ${values.top} functions that grew most (self time per request served)`);
  console.log(functions.slice(0, Number(values.top)).map(line).join('\n'));
  console.log('and the 5 that shrank most');
  console.log(functions.slice(-5).reverse().map(line).join('\n'));
}

// Request-overhead benchmark: the same hello-world route in each framework, bare and under each
// tracing configuration, side by side in one run, alternated, repeated; medians and ratios to bare.
//
// Each server runs in its own process pinned to core 0 (`taskset -c 0`); the load generator
// (wrk, or autocannon without it; 50 connections, fixed duration) and the OTLP sink run pinned to core 1.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const autocannonBin = join(dirname(require.resolve('autocannon/package.json')), 'autocannon.js');
const hasTaskset = existsSync('/usr/bin/taskset');

export const FRAMEWORKS = ['express', 'koa', 'fastify', 'nest-express', 'nest-fastify'];
export const MODES = ['bare', 'tracewire', 'tracewire-unsampled', 'official'];
/** A fixed-load slice whose generator's 1 ms timer missed this long counts as stalled by the loader. */
export const LOADER_STALL_MS = 10;

const pinned = (core, cmd, args) =>
  hasTaskset ? ['taskset', ['-c', String(core), cmd, ...args]] : [cmd, args];

/** Starts a process that prints `{"port": n}` as its first line; resolves with the child and port. */
export function startProcess(cmd, args, env = {}, core = undefined) {
  const [c, a] = core === undefined ? [cmd, args] : pinned(core, cmd, args);
  const child = spawn(c, a, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
    if (stderr.length > 20_000) stderr = stderr.slice(-10_000);
  });
  return new Promise((resolve, reject) => {
    let buf = '';
    const onData = (d) => {
      buf += d;
      let nl = buf.indexOf('\n');
      // V8 diagnostics (`--trace-deopt` in NODE_OPTIONS) print `[...]` lines before the port line.
      while (nl >= 0 && buf.startsWith('[')) {
        buf = buf.slice(nl + 1);
        nl = buf.indexOf('\n');
      }
      if (nl < 0) return;
      child.stdout.off('data', onData);
      child.stdout.resume();
      try {
        resolve({ child, port: JSON.parse(buf.slice(0, nl)).port, stderr: () => stderr });
      } catch {
        reject(new Error(`bad first line from ${args.join(' ')}: ${buf.slice(0, nl)}\n${stderr}`));
      }
    };
    child.stdout.on('data', onData);
    child.once('exit', (code) =>
      reject(new Error(`${args.join(' ')} exited with ${code} before listening\n${stderr}`)),
    );
  });
}

export function stopProcess(child, timeoutMs = 15_000) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** utime+stime of a process in seconds (Linux /proc). */
function cpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

/** Current and peak resident set size of a process in MiB. */
function memory(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k) => Number(status.match(new RegExp(`${k}:\\s+(\\d+)`))?.[1] ?? Number.NaN);
    return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
  } catch {
    return { rss: Number.NaN, peak: Number.NaN };
  }
}

const hasWrk = existsSync('/usr/bin/wrk');
export const loader = hasWrk ? 'wrk' : 'autocannon';

/** wrk prints latencies as `1.23ms`, `850.00us`, `1.02s`. */
function wrkMs(text) {
  const m = /([\d.]+)(us|ms|s)\b/.exec(text);
  if (!m) return Number.NaN;
  const v = Number(m[1]);
  return m[2] === 'us' ? v / 1000 : m[2] === 's' ? v * 1000 : v;
}

/**
 * Loads `url` for `seconds` from a separate process pinned to core 1: Debian's wrk when installed
 * (a C load generator, so the loader is not the bottleneck for the fastest servers), else autocannon.
 * With `rate`: paced.mjs, an open-loop generator sending `rate` requests per second whatever the
 * server does, for latency at a fixed load instead of at saturation, after `warmup` seconds at that
 * rate that are not measured; `onMeasuring` is called when the measured seconds begin.
 * Returns { rps, p50, p99 (ms), total, errors } (total: every request answered, warm-up included).
 */
export function load(url, seconds, connections, rate = undefined, warmup = 0, onMeasuring = undefined) {
  const secs = Math.max(1, Math.round(seconds));
  const kind = rate !== undefined ? 'paced' : hasWrk ? 'wrk' : 'autocannon';
  const [c, a] =
    kind === 'paced'
      ? pinned(1, process.execPath, [
          join(here, 'paced.mjs'),
          url,
          String(rate),
          String(secs),
          String(connections),
          String(warmup),
        ])
      : kind === 'wrk'
        ? pinned(1, '/usr/bin/wrk', ['-t1', `-c${connections}`, `-d${secs}s`, '--latency', url])
        : pinned(1, process.execPath, [
            autocannonBin,
            '-c',
            String(connections),
            '-d',
            String(secs),
            '-j',
            url,
          ]);
  return new Promise((resolve, reject) => {
    const child = spawn(c, a, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    let err = '';
    child.stderr.on('data', (d) => {
      if (err.length < 10_000) err += d;
      if (onMeasuring !== undefined && err.includes('measuring\n')) {
        onMeasuring();
        onMeasuring = undefined;
      }
    });
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`${kind} exited with ${code}: ${out}${err}`));
      try {
        if (kind === 'paced') {
          resolve(JSON.parse(out));
        } else if (kind === 'wrk') {
          const total = Number(/(\d+) requests in/.exec(out)?.[1] ?? Number.NaN);
          const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
          const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
          const sockErrors = sock ? Number(sock[1]) + Number(sock[3]) + Number(sock[4]) : 0;
          resolve({
            rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? Number.NaN),
            p50: wrkMs(/\s50%\s+(\S+)/.exec(out)?.[1] ?? ''),
            p99: wrkMs(/\s99%\s+(\S+)/.exec(out)?.[1] ?? ''),
            total,
            errors: non2xx + sockErrors,
          });
        } else {
          const j = JSON.parse(out);
          resolve({
            rps: j.requests.average,
            p50: j.latency.p50,
            p99: j.latency.p99,
            total: j.requests.total,
            errors: j.errors + j.non2xx,
          });
        }
      } catch (e) {
        reject(e);
      }
    });
  });
}

/**
 * What server.cjs needs for one configuration: its mode, the sink path it exports to, and its
 * environment. `tracewire@before` is the `tracewire` configuration with tracewire from the bundle
 * labelled `before` (`--bundle before=/tmp/before.cjs`), so two builds are compared in one run.
 * Each server exports to its own path of the shared sink, which counts spans per path.
 */
export function serverConfig(framework, mode, sinkUrl, bundles) {
  const [serverMode, label] = mode.split('@');
  const sinkPath = `/${framework}/${mode}/v1/traces`;
  const env = { OTLP_URL: `${sinkUrl}${sinkPath}` };
  if (label !== undefined) {
    const bundle = bundles?.[label];
    if (bundle === undefined) throw new Error(`mode ${mode}: no --bundle ${label}=<path> given`);
    env.TRACEWIRE_BUNDLE = bundle;
  }
  return { serverMode, sinkPath, env };
}

/** The server of one configuration, loaded in slices (see {@link runOverhead}). */
async function startServer({ nodeBin, framework, mode, sinkUrl, bundles }) {
  const { serverMode, sinkPath, env } = serverConfig(framework, mode, sinkUrl, bundles);
  // BENCH_SERVER_FLAGS: extra node/V8 flags for the servers only, for diagnosing one run (for
  // example `--log-deopt --logfile=/tmp/v8-%p.log --no-logfile-per-isolate`; V8 flags are not
  // allowed in NODE_OPTIONS). Rows carry each server's pid to match a slow server to its log.
  const flags = (process.env.BENCH_SERVER_FLAGS ?? '').split(' ').filter(Boolean);
  // V8 prints one line per mark-compact (scavenges left out): each slice counts the ones that fell
  // in it, since on a server pinned to one core each one stalls the event loop for tens of
  // milliseconds (docs/performance.md, "Fifth pass"), and that is what a slow p99 slice is made of.
  const server = await startProcess(
    nodeBin,
    ['--trace-gc', '--trace-gc-ignore-scavenger', ...flags, join(here, 'server.cjs'), framework, serverMode],
    env,
    0,
  );
  const started = {
    ...server,
    mode,
    sinkPath,
    url: `http://127.0.0.1:${server.port}/users/42`,
    requests: 0,
    // V8's mark-compact lines so far (each says how long it took and why it ran).
    markCompacts: [],
  };
  let partial = '';
  server.child.stdout.on('data', (d) => {
    const lines = (partial + d).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) if (countMarkCompacts(line) > 0) started.markCompacts.push(line.trim());
  });
  return started;
}

/** Mark-compacts in `--trace-gc` output (`[pid:0x…] 1234 ms: Mark-Compact 12.1 (14.0) -> …`). */
export function countMarkCompacts(text) {
  return text.match(/: Mark-Compact /g)?.length ?? 0;
}

/** One measured slice of load on one running server. */
async function measureSlice(server, framework, seconds, connections, rate = undefined, warmup = 0) {
  const cpu0 = cpuSeconds(server.child.pid);
  // A fixed-load slice counts the mark-compacts of its measured seconds only (paced.mjs says when
  // they begin); one in the warm-up delays none of the measured requests.
  let gc0 = server.markCompacts.length;
  const r = await load(server.url, seconds, connections, rate, warmup, () => {
    gc0 = server.markCompacts.length;
  });
  const cpu1 = cpuSeconds(server.child.pid);
  // A line V8 printed just before the load ended may still be in the pipe.
  await sleep(20);
  const markCompactLines = server.markCompacts.slice(gc0);
  server.requests += r.total;
  const mem = memory(server.child.pid);
  return {
    framework,
    mode: server.mode,
    pid: server.child.pid,
    rps: r.rps,
    p50: r.p50,
    p99: r.p99,
    errors: r.errors,
    // Requests answered in the slice, a fixed-load slice's warm-up included.
    answered: r.total,
    // V8 mark-compacts during the slice's measured seconds (in runs before 2026-12-07, the warm-up's
    // too).
    markCompacts: markCompactLines.length,
    // V8's line for each of them (`--trace-gc`: heap sizes before and after, pause, reason).
    markCompactLines,
    // Fixed load only: the longest the generator's timer went without running (ms); see paced.mjs.
    loaderStall: r.maxTickGap,
    cpu: (cpu1 - cpu0) / (seconds + warmup),
    // Server CPU time per request served: unlike req/s it does not depend on the load generator
    // keeping up, and time the VM was descheduled is not counted in it.
    cpuUs: ((cpu1 - cpu0) / r.total) * 1e6,
    rss: mem.rss,
    peakRss: mem.peak,
    spansPerRequest: Number.NaN, // filled in once the servers have flushed
  };
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const median = (xs) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/**
 * Runs every mode for every framework. All configurations of one framework run at once, each in its
 * own server process (all pinned to core 0; only the one under load is busy), so a round is a few
 * seconds: each server is warmed up once, then loaded for `seconds` in turn, `rounds` times, the
 * order rotating each round so no configuration always runs first or last. Slow spells of a shared
 * machine last seconds to minutes and then hit every configuration of a round alike; ratios are
 * taken within a round and their median over rounds is reported. Returns per-slice rows and
 * per-(framework, mode) medians.
 */
export async function runOverhead({
  nodeBin = process.execPath,
  frameworks = FRAMEWORKS,
  modes = MODES,
  rounds = 3,
  seconds = 10,
  warmupSeconds = 2,
  connections = 50,
  bundles = {},
  log = console.log,
  // The fixed-load latency phase (see below): its rounds, and the load as a share of bare's
  // throughput, capped at what paced.mjs on one core (shared with the sink) sends steadily.
  latencyRounds = rounds,
  latencyLoad = 0.5,
  latencyMaxRate = 20_000,
  // Seconds at the offered rate before each measured slice (see paced.mjs: the first second after
  // a load starts stalls every server alike, and would otherwise set a short slice's p99).
  latencyWarmupSeconds = 1,
  // The sustained-load phase (see below): rounds (0 skips it), measured seconds, unmeasured warm-up
  // seconds, and the configurations it loads.
  sustainedRounds = 0,
  sustainedSeconds = 12,
  sustainedWarmupSeconds = 30,
  sustainedModes = modes.filter((m) => !m.startsWith('official')),
  // Fresh server processes every this many throughput rounds (0: one process per configuration
  // for the whole run). One process can run all its rounds faster or slower than another process
  // of the same code (docs/performance.md, "Tenth pass": 10% apart), which one process per
  // configuration cannot tell from a difference between the configurations.
  restartEvery = 0,
} = {}) {
  const sink = await startProcess(process.execPath, [join(here, 'sink.mjs')], {}, 1);
  const sinkUrl = `http://127.0.0.1:${sink.port}`;
  const runs = [];
  try {
    for (const framework of frameworks) {
      await fetch(`${sinkUrl}/reset`, { method: 'POST' });
      const servers = [];
      // A server per mode, started, then all warmed up (their warm-up requests counted, as their
      // spans reach the sink too); `requests` carries over what earlier processes of a mode served.
      const startAll = async (requests = modes.map(() => 0)) => {
        for (let i = 0; i < modes.length; i++) {
          servers[i] = await startServer({ nodeBin, framework, mode: modes[i], sinkUrl, bundles });
          servers[i].requests = requests[i];
        }
        for (const server of servers) {
          const warm = await load(server.url, warmupSeconds, connections);
          server.requests += warm.total;
        }
      };
      try {
        await startAll();
        const rows = [];
        for (let round = 0; round < rounds; round++) {
          if (restartEvery > 0 && round > 0 && round % restartEvery === 0) {
            // SIGTERM: each server flushes its spans before exiting, so the sink's count per
            // configuration (spans/request below) still covers every request served.
            await Promise.all(servers.map((s) => stopProcess(s.child)));
            await startAll(servers.map((s) => s.requests));
          }
          for (const server of rotated(servers, round)) {
            const row = await measureSlice(server, framework, seconds, connections);
            row.round = round;
            rows.push(row);
            log(
              `  ${framework.padEnd(12)} ${server.mode.padEnd(20)} round ${round + 1}: ${row.rps.toFixed(0).padStart(6)} req/s  p99 ${row.p99.toFixed(2)} ms  cpu ${(row.cpu * 100).toFixed(0)}%  ${row.cpuUs.toFixed(1)} µs/req`,
            );
          }
        }
        // Latency at a fixed load: at saturation a closed-loop loader's latency is its connection
        // count over the throughput (Little's law), so the p99 above mostly restates the req/s.
        // A production server runs below saturation; here every configuration of the framework
        // gets the same offered rate (half of bare's median req/s, capped), rotating, and what is
        // compared is the latency a request sees at that load.
        const bareRps = median(rows.filter((r) => r.mode === 'bare').map((r) => r.rps));
        const rate = Math.max(1, Math.round(Math.min(latencyMaxRate, bareRps * latencyLoad)));
        // One latency phase: `phaseRounds` rounds over `phaseModes`, the order rotating each round;
        // `acquire(mode)` gives the server to load and a function to call once its slice is done.
        const latencyPhase = async (phase, phaseRounds, phaseSeconds, phaseWarmup, phaseModes, acquire) => {
          for (let round = 0; round < phaseRounds; round++) {
            for (const mode of rotated(phaseModes, round)) {
              const [server, release] = await acquire(mode);
              try {
                const row = await measureSlice(
                  server,
                  framework,
                  phaseSeconds,
                  connections,
                  rate,
                  phaseWarmup,
                );
                Object.assign(row, { round, rate, phase });
                rows.push(row);
                log(
                  `  ${framework.padEnd(12)} ${mode.padEnd(20)} ${phase} at ${rate} req/s, round ${round + 1}: p50 ${row.p50.toFixed(2)} ms  p99 ${row.p99.toFixed(2)} ms  cpu ${(row.cpu * 100).toFixed(0)}%  mark-compacts ${row.markCompacts}  loader stall ${row.loaderStall.toFixed(1)} ms`,
                );
              } finally {
                await release();
              }
            }
          }
        };
        const running = (mode) => servers.find((s) => s.mode === mode);
        if (Number.isFinite(bareRps)) {
          // Sliced: short slices on the servers above, each idle while the others are loaded.
          await latencyPhase('fixed', latencyRounds, seconds, latencyWarmupSeconds, modes, (mode) => [
            running(mode),
            async () => {},
          ]);
          // Sustained: the load a server under steady traffic sees. A server of the phases above
          // has idled between its slices, and V8 shrinks an idle process's heap (its memory
          // reducer), after which old space fills again within seconds and mark-compacts follow
          // until the heap has grown back (docs/performance.md, "Seventh pass"); a server under
          // steady load never gets there. So each slice here gets a server of its own, started
          // for it and warmed up like the ones above, and loaded without a break for the warm-up
          // and the measured seconds. The official stack is left out by default: it cannot serve
          // the fixed load (the sliced phase shows it), and its queue would only grow.
          await latencyPhase(
            'sustained',
            sustainedRounds,
            sustainedSeconds,
            sustainedWarmupSeconds,
            modes.filter((m) => sustainedModes.includes(m)),
            async (mode) => {
              const fresh = await startServer({ nodeBin, framework, mode, sinkUrl, bundles });
              const release = async () => {
                // SIGTERM flushes its spans to the sink (same path as the mode's other server):
                // its requests count toward the mode's spans per request.
                await stopProcess(fresh.child);
                running(mode).requests += fresh.requests;
              };
              try {
                fresh.requests += (await load(fresh.url, warmupSeconds, connections)).total;
              } catch (err) {
                await release();
                throw err;
              }
              return [fresh, release];
            },
          );
        }
        // SIGTERM: each server flushes its spans before exiting; then the sink has them all.
        await Promise.all(servers.map((s) => stopProcess(s.child)));
        await sleep(300);
        const count = await (await fetch(`${sinkUrl}/count`)).json();
        for (const server of servers) {
          const perRequest = (count.byPath[server.sinkPath] ?? 0) / server.requests;
          for (const row of rows) if (row.mode === server.mode) row.spansPerRequest = perRequest;
          log(`  ${framework.padEnd(12)} ${server.mode.padEnd(20)} spans/request ${perRequest.toFixed(2)}`);
        }
        runs.push(...rows);
      } finally {
        await Promise.all(servers.map((s) => stopProcess(s.child)));
      }
    }
  } finally {
    await stopProcess(sink.child);
  }
  return { runs, summary: summarize(runs) };
}

/**
 * Medians per (framework, mode), plus the median of the per-round ratios to bare from the same round.
 * Rows of the sliced fixed-load phase give the `fixed*` figures, those of the sustained one the
 * `sustained*` figures, the others (no `rate`) the saturation ones.
 */
export function summarize(runs) {
  const out = [];
  const frameworks = [...new Set(runs.map((r) => r.framework))];
  for (const framework of frameworks) {
    const all = runs.filter((r) => r.framework === framework);
    const fr = all.filter((r) => phaseOf(r) === 'saturation');
    const fixed = all.filter((r) => phaseOf(r) === 'fixed');
    const sustained = all.filter((r) => phaseOf(r) === 'sustained');
    const modes = [...new Set(fr.map((r) => r.mode))];
    for (const mode of modes) {
      const rows = fr.filter((r) => r.mode === mode);
      const ratio = (key) => perRound(rows, fr, (r, bare) => r[key] / bare[key]);
      out.push({
        framework,
        mode,
        rps: median(rows.map((r) => r.rps)),
        p50: median(rows.map((r) => r.p50)),
        p99: median(rows.map((r) => r.p99)),
        cpu: median(rows.map((r) => r.cpu)),
        peakRss: median(rows.map((r) => r.peakRss)),
        spansPerRequest: median(rows.map((r) => r.spansPerRequest)),
        errors: rows.reduce((a, r) => a + r.errors, 0),
        rpsRatio: ratio('rps'),
        cpuUs: median(rows.map((r) => r.cpuUs)),
        // bare CPU per request / this configuration's: the throughput ratio a saturated core would give.
        cpuRatio: perRound(rows, fr, (r, bare) => bare.cpuUs / r.cpuUs),
        p99Ratio: ratio('p99'),
        rounds: rows.length,
        // At a fixed offered load, in short slices and sustained (NaN when a phase did not run).
        ...latencySummary('fixed', mode, fixed),
        ...latencySummary('sustained', mode, sustained),
      });
    }
  }
  return out;
}

/**
 * Which phase a row is from: `saturation` (no offered rate), `fixed` (the sliced fixed-load phase)
 * or `sustained`. Rows of runs saved before the sustained phase have a rate and no phase.
 */
export function phaseOf(row) {
  return row.rate === undefined ? 'saturation' : (row.phase ?? 'fixed');
}

/** `list` in round `round`'s order: rotated by one more each round, so none always runs first. */
export function rotated(list, round) {
  return list.map((_, i) => list[(i + round) % list.length]);
}

/** The median over rounds of f(row, bare's row of the same round and phase). */
function perRound(of, pool, f) {
  return median(
    of.map((r) => {
      const bare = pool.find((b) => b.mode === 'bare' && b.round === r.round);
      return bare ? f(r, bare) : Number.NaN;
    }),
  );
}

/** One latency phase's figures for one configuration, as `${prefix}P99` and so on. */
function latencySummary(prefix, mode, pool) {
  const rows = pool.filter((r) => r.mode === mode);
  const ratio = (key) => perRound(rows, pool, (r, bare) => r[key] / bare[key]);
  const figures = {
    Rate: median(rows.map((r) => r.rate)),
    Rps: median(rows.map((r) => r.rps)),
    P50: median(rows.map((r) => r.p50)),
    P99: median(rows.map((r) => r.p99)),
    Cpu: median(rows.map((r) => r.cpu)),
    P50Ratio: ratio('p50'),
    P99Ratio: ratio('p99'),
    // Slices that held a mark-compact, of how many (rows of older runs have no count).
    SlicesWithMarkCompact: rows.filter((r) => r.markCompacts > 0).length,
    Slices: rows.filter((r) => r.markCompacts !== undefined).length,
    // Slices in which the load generator itself stalled for LOADER_STALL_MS or more.
    SlicesLoaderStalled: rows.filter((r) => r.loaderStall >= LOADER_STALL_MS).length,
  };
  return Object.fromEntries(Object.entries(figures).map(([k, v]) => [`${prefix}${k}`, v]));
}

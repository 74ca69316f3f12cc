// Shared machinery of the fault-injection suite, used by the short form (`apps/bench/test`, run in
// `npm test`) and the long form (`npm run reliability -w @tracewire/bench`): the collector and the
// app as separate processes, load generators, RSS sampling, and one function per scenario that
// returns everything measured. The callers decide what to assert (tests) or print (long form).
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stopProcess } from '../overhead/run.mjs';

const here = dirname(fileURLToPath(import.meta.url));
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const hasTaskset = existsSync('/usr/bin/taskset');
export const hasWrk = existsSync('/usr/bin/wrk');

/**
 * Spawns a process that prints one JSON line first (`{"port": …}`); keeps its whole stderr
 * (bounded to the last 1 MB) and the number of stderr lines.
 */
export function spawnJsonProcess(cmd, args, { env = {}, core } = {}) {
  const [c, a] =
    core !== undefined && hasTaskset ? ['taskset', ['-c', String(core), cmd, ...args]] : [cmd, args];
  const child = spawn(c, a, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let stderrLines = 0;
  child.stderr.on('data', (d) => {
    const s = String(d);
    stderrLines += s.split('\n').length - 1;
    stderr += s;
    if (stderr.length > 1_000_000) stderr = stderr.slice(-500_000);
  });
  let exit;
  const exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      exit = { code, signal, at: Date.now() };
      resolve(exit);
    });
  });
  const ready = new Promise((resolve, reject) => {
    let buf = '';
    const onData = (d) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      child.stdout.off('data', onData);
      child.stdout.resume();
      try {
        resolve(JSON.parse(buf.slice(0, nl)));
      } catch {
        reject(new Error(`bad first line from ${args.join(' ')}: ${buf.slice(0, nl)}\n${stderr}`));
      }
    };
    child.stdout.on('data', onData);
    exited.then((e) =>
      reject(new Error(`${args.join(' ')} exited (${e.code ?? e.signal}) before it was ready\n${stderr}`)),
    );
  });
  return {
    child,
    ready,
    exited,
    exit: () => exit,
    stderr: () => stderr,
    stderrLines: () => stderrLines,
  };
}

/** The controllable collector process (collector.mjs). */
export async function startCollector({ core } = {}) {
  const p = spawnJsonProcess(process.execPath, [join(here, 'collector.mjs')], { core });
  const { port, control } = await p.ready;
  const ctl = `http://127.0.0.1:${control}`;
  const get = async (path) => (await fetch(`${ctl}${path}`)).json();
  const post = async (path) => (await fetch(`${ctl}${path}`, { method: 'POST' })).json();
  return {
    port,
    tracesUrl: `http://127.0.0.1:${port}/v1/traces`,
    child: p.child,
    /** mode: ok | down | slow | 503 | 429 | 400 | 500 | hang | reset */
    setMode: (m, { delay, retryAfter } = {}) => {
      const q = new URLSearchParams({ m });
      if (delay !== undefined) q.set('delay', String(delay));
      if (retryAfter !== undefined) q.set('retryAfter', String(retryAfter));
      return post(`/mode?${q}`);
    },
    count: () => get('/count'),
    attempts: () => get('/attempts'),
    reset: () => post('/reset'),
    stop: () => stopProcess(p.child),
  };
}

/** The traced Express app (app.cjs) or any other app file printing `{"port"}`. */
export async function startApp({
  env = {},
  file = join(here, 'app.cjs'),
  nodeBin = process.execPath,
  core,
  args = [],
} = {}) {
  let p = spawnJsonProcess(nodeBin, [file, ...args], { env, core });
  let port;
  try {
    ({ port } = await p.ready);
  } catch {
    // One retry: while other work rebuilds the workspace packages' dist/, a start can race a
    // half-written bundle. A second failure is reported as it is.
    await sleep(3000);
    p = spawnJsonProcess(nodeBin, [file, ...args], { env, core });
    ({ port } = await p.ready);
  }
  const base = `http://127.0.0.1:${port}`;
  return {
    ...p,
    port,
    base,
    pid: p.child.pid,
    stats: async () => (await fetch(`${base}/__stats`)).json(),
    /** SIGTERM (or `signal`); resolves with { code, signal, ms } once the process has exited. */
    sigterm: async (signal = 'SIGTERM') => {
      const t0 = Date.now();
      p.child.kill(signal);
      const e = await p.exited;
      return { code: e.code, signal: e.signal, ms: e.at - t0 };
    },
    kill: () => {
      if (p.exit() === undefined) p.child.kill('SIGKILL');
      return p.exited;
    },
  };
}

/** Resident set size of a process in MiB (Linux /proc), NaN when unavailable. */
export function rssMiB(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN) / 1024;
  } catch {
    return Number.NaN;
  }
}

/** Samples a process's RSS every `everyMs`; `stop()` returns the samples `[{ t, rss }]`. */
export function sampleRss(pid, everyMs = 1000) {
  const samples = [];
  const t0 = Date.now();
  const take = () => samples.push({ t: Date.now() - t0, rss: rssMiB(pid) });
  take();
  const timer = setInterval(take, everyMs);
  return {
    samples,
    stop() {
      clearInterval(timer);
      take();
      return samples;
    },
  };
}

export const percentile = (xs, p) => {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};
export const mean = (xs) => {
  const s = xs.filter(Number.isFinite);
  return s.length ? s.reduce((a, b) => a + b, 0) / s.length : Number.NaN;
};

/**
 * A closed-loop load generator in this process: `connections` keep-alive connections, each sending
 * the next request as soon as the previous answer arrived, for `seconds`. Every answer is checked,
 * so "all requests succeeded" is exact. Returns { total, ok, failed, failures, rps, p50, p99 }.
 */
export async function nodeLoad(url, seconds, connections = 8) {
  const agent = new Agent({ keepAlive: true, maxSockets: connections });
  const u = new URL(url);
  const latencies = [];
  const failures = [];
  let ok = 0;
  let total = 0;
  const end = Date.now() + seconds * 1000;
  const one = () =>
    new Promise((resolve) => {
      const t0 = performance.now();
      const req = request({ host: u.hostname, port: u.port, path: u.pathname + u.search, agent }, (res) => {
        res.resume();
        res.on('end', () => {
          latencies.push(performance.now() - t0);
          if (res.statusCode === 200) ok++;
          else if (failures.length < 20) failures.push(`HTTP ${res.statusCode}`);
          resolve();
        });
        res.on('error', (e) => {
          if (failures.length < 20) failures.push(e.message);
          resolve();
        });
      });
      req.on('error', (e) => {
        if (failures.length < 20) failures.push(e.message);
        resolve();
      });
      req.end();
    });
  const t0 = Date.now();
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (Date.now() < end) {
        total++;
        await one();
      }
    }),
  );
  const elapsed = (Date.now() - t0) / 1000;
  agent.destroy();
  return {
    total,
    ok,
    failed: total - ok,
    failures,
    rps: total / elapsed,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
  };
}

/** wrk prints latencies as `1.23ms`, `850.00us`, `1.02s`. */
function wrkMs(text) {
  const m = /([\d.]+)(us|ms|s)\b/.exec(text ?? '');
  if (!m) return Number.NaN;
  const v = Number(m[1]);
  return m[2] === 'us' ? v / 1000 : m[2] === 's' ? v * 1000 : v;
}

/**
 * wrk (a C load generator, so the loader is not the bottleneck), pinned to `core` when taskset is
 * there. Returns { total, ok, failed, timeouts, rps, p50, p99 }; `failed` counts non-2xx answers
 * and connect/read/write socket errors, `timeouts` the requests wrk gave up on after 2 s.
 */
export function wrkLoad(url, seconds, connections = 50, core = 1) {
  const args = ['-t1', `-c${connections}`, `-d${Math.max(1, Math.round(seconds))}s`, '--latency', url];
  const [c, a] = hasTaskset
    ? ['taskset', ['-c', String(core), '/usr/bin/wrk', ...args]]
    : ['/usr/bin/wrk', args];
  return new Promise((resolve, reject) => {
    const child = spawn(c, a, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`wrk exited with ${code}: ${out}`));
      const total = Number(/(\d+) requests in/.exec(out)?.[1] ?? Number.NaN);
      const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
      const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
      // connect, read and write errors are failures; `timeout` is wrk giving up on a request after
      // 2 s, which on an overloaded machine is the machine, so it is reported apart.
      const sockErrors = sock ? Number(sock[1]) + Number(sock[2]) + Number(sock[3]) : 0;
      resolve({
        total,
        ok: total - non2xx,
        failed: non2xx + sockErrors,
        timeouts: sock ? Number(sock[4]) : 0,
        rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? Number.NaN),
        p50: wrkMs(/\s50%\s+(\S+)/.exec(out)?.[1]),
        p99: wrkMs(/\s99%\s+(\S+)/.exec(out)?.[1]),
      });
    });
  });
}

/** Polls `fn` until it returns a truthy value or `timeoutMs` passes; returns the last value. */
export async function waitUntil(fn, timeoutMs, everyMs = 100) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v || Date.now() > end) return v;
    await sleep(everyMs);
  }
}

/** Lines of the app's stderr that tracewire's diag logger printed, by cause. */
export function diagLines(stderr) {
  const lines = stderr.split('\n').filter((l) => l.includes('tracewire:'));
  return {
    all: lines,
    queueFull: lines.filter((l) => l.includes('span queue full')),
    exportFailed: lines.filter((l) => l.includes('export of') && l.includes('failed')),
  };
}

/**
 * Per export body (a retry re-sends the same bytes), from the collector's /attempts record: how many
 * bodies were retried at all (`retried`) and after an attempt in the fault mode (`retriedAfterFault`),
 * the most attempts of one body (`maxAttempts`) and in the fault mode (`maxFaultAttempts`), the
 * shortest gap after a fault-mode attempt, and the longest first-to-last-attempt span.
 */
export function analyseAttempts(bodies, faultMode) {
  const inFault = bodies.filter((b) => b.outcomes.includes(faultMode));
  let maxAttempts = 0;
  let maxFaultAttempts = 0;
  let retried = 0;
  let retriedAfterFault = 0;
  let minGapAfterFault = Number.POSITIVE_INFINITY;
  let maxSpan = 0;
  for (const b of inFault) {
    maxAttempts = Math.max(maxAttempts, b.times.length);
    maxFaultAttempts = Math.max(maxFaultAttempts, b.outcomes.filter((x) => x === faultMode).length);
    if (b.times.length > 1) retried++;
    if (b.outcomes.slice(0, -1).includes(faultMode)) retriedAfterFault++;
    maxSpan = Math.max(maxSpan, b.times[b.times.length - 1] - b.times[0]);
    for (let i = 1; i < b.times.length; i++) {
      if (b.outcomes[i - 1] === faultMode)
        minGapAfterFault = Math.min(minGapAfterFault, b.times[i] - b.times[i - 1]);
    }
  }
  return {
    bodies: inFault.length,
    retried,
    retriedAfterFault,
    maxAttempts,
    maxFaultAttempts,
    minGapAfterFault,
    maxSpan,
  };
}

/**
 * One collector fault under load, in three windows of the same run: collector up (baseline), the
 * fault, collector up again (recovery). Returns what a caller asserts or prints.
 *
 * @param o.mode collector mode for the fault window
 * @param o.modeParams { delay, retryAfter }
 * @param o.seconds { baseline, fault, recovery }
 * @param o.loader 'node' (exact success accounting, tests) or 'wrk' (long form)
 * @param o.env extra app environment (OTEL_BSP_*, OTEL_EXPORTER_OTLP_TIMEOUT, …)
 */
export async function runCollectorFault(o) {
  const collector = o.collector ?? (await startCollector({ core: o.collectorCore }));
  const ownCollector = o.collector === undefined;
  await collector.setMode('ok');
  await collector.reset();
  const app = await startApp({
    env: { OTLP_URL: collector.tracesUrl, OTEL_LOG_LEVEL: 'warn', ...o.env },
    nodeBin: o.nodeBin,
    core: o.appCore,
  });
  const url = `${app.base}/users/42`;
  const loadFor = (s) =>
    o.loader === 'wrk'
      ? wrkLoad(url, s, o.connections ?? 50, o.loadCore ?? 1)
      : nodeLoad(url, s, o.connections ?? 8);
  const rssEvery = o.rssEveryMs ?? 1000;
  try {
    if (o.seconds.warmup) await loadFor(o.seconds.warmup);
    // Baseline: collector up.
    let rss = sampleRss(app.pid, rssEvery);
    const baseline = await loadFor(o.seconds.baseline);
    const baselineRss = rss.stop();
    const statsBefore = await app.stats();
    const countBefore = await collector.count();
    const stderrBefore = app.stderr().length;

    // Fault.
    await collector.setMode(o.mode, o.modeParams ?? {});
    const faultStart = Date.now();
    rss = sampleRss(app.pid, rssEvery);
    const fault = await loadFor(o.seconds.fault);
    const faultRss = rss.stop();
    const statsFault = await app.stats();
    const countFault = await collector.count();

    // Recovery: collector up again; spans must arrive without a restart.
    await collector.setMode('ok');
    const recoveryStart = Date.now();
    rss = sampleRss(app.pid, rssEvery);
    // How long until the first span arrives once the collector is back (polled alongside the load).
    let resumedAfterMs;
    const resumed = (async () => {
      const end = recoveryStart + o.seconds.recovery * 1000 + 30_000;
      while (Date.now() < end) {
        const c = await collector.count();
        if (c.spans > countFault.spans) {
          resumedAfterMs = Date.now() - recoveryStart;
          return;
        }
        await sleep(100);
      }
    })();
    const recovery = await loadFor(o.seconds.recovery);
    const recoveryRss = rss.stop();
    // Let everything queued be exported (or fail) before the final count.
    const settled = await waitUntil(
      async () => {
        const s = await app.stats();
        return s.bsp.queued === 0 && s.bsp.exporting === 0 ? s : undefined;
      },
      o.settleTimeoutMs ?? 60_000,
      200,
    );
    await resumed;
    const statsEnd = settled ?? (await app.stats());
    const countEnd = await collector.count();
    const attempts = await collector.attempts();
    const stderr = app.stderr();
    const faultSeconds = o.seconds.fault;
    const half = (samples) => {
      const mid = samples.length >> 1;
      return {
        first: mean(samples.slice(0, mid).map((s) => s.rss)),
        second: mean(samples.slice(mid).map((s) => s.rss)),
      };
    };
    return {
      mode: o.mode,
      modeParams: o.modeParams ?? {},
      faultStart,
      recoveryStart,
      baseline,
      fault,
      recovery,
      rss: {
        baseline: baselineRss,
        fault: faultRss,
        recovery: recoveryRss,
        baselineMax: Math.max(...baselineRss.map((s) => s.rss)),
        faultMax: Math.max(...faultRss.map((s) => s.rss)),
        faultHalves: half(faultRss),
        max: Math.max(...[...baselineRss, ...faultRss, ...recoveryRss].map((s) => s.rss)),
      },
      stats: { before: statsBefore, fault: statsFault, end: statsEnd },
      settled: settled !== undefined,
      collector: { before: countBefore, fault: countFault, end: countEnd },
      spansInRecovery: countEnd.spans - countFault.spans,
      resumedAfterMs,
      attempts: analyseAttempts(attempts, o.mode),
      retriesInFault: statsFault.exporter.retries - statsBefore.exporter.retries,
      requestsInFault: statsFault.exporter.requests - statsBefore.exporter.requests,
      droppedInFault: statsFault.bsp.dropped - statsBefore.bsp.dropped,
      diag: diagLines(stderr.slice(stderrBefore)),
      diagAll: diagLines(stderr),
      faultSeconds,
      stderr,
    };
  } finally {
    await app.kill();
    if (ownCollector) await collector.stop();
  }
}

/**
 * Graceful shutdown: `requests` requests served (their spans queued: the schedule delay is long and
 * the queue holds them), then SIGTERM to an app with no signal handler of its own. With the
 * collector in `collectorMode` ('ok' for a live collector, 'down'/'hang' for a dead one).
 * Returns { accepted, queuedAtSignal, received, exit: { code, signal, ms }, timeoutMs }.
 */
export async function runShutdown({
  collectorMode = 'ok',
  requests = 1500,
  timeoutMs = 3000,
  nodeBin,
  collector: shared,
  signal = 'SIGTERM',
} = {}) {
  const collector = shared ?? (await startCollector());
  await collector.setMode('ok');
  await collector.reset();
  const app = await startApp({
    nodeBin,
    env: {
      OTLP_URL: collector.tracesUrl,
      OTEL_LOG_LEVEL: 'warn',
      // Nothing is exported before the signal: a long schedule delay and batches bigger than the
      // queue content keep every span queued.
      OTEL_BSP_SCHEDULE_DELAY: '600000',
      OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '2048',
      OTEL_EXPORTER_OTLP_TIMEOUT: String(timeoutMs),
    },
  });
  try {
    const agent = new Agent({ keepAlive: true, maxSockets: 8 });
    let ok = 0;
    const send = () =>
      new Promise((resolve) => {
        const req = request({ host: '127.0.0.1', port: app.port, path: '/users/7', agent }, (res) => {
          res.resume();
          res.on('end', () => {
            if (res.statusCode === 200) ok++;
            resolve();
          });
        });
        req.on('error', () => resolve());
        req.end();
      });
    for (let i = 0; i < requests; i += 8)
      await Promise.all(Array.from({ length: Math.min(8, requests - i) }, send));
    agent.destroy();
    // Every span ended (accepted by the processor) before the signal.
    const before = await waitUntil(
      async () => {
        const s = await app.stats();
        return s.bsp.accepted >= requests ? s : undefined;
      },
      10_000,
      50,
    );
    await collector.setMode(collectorMode);
    const exit = await app.sigterm(signal);
    const count = await collector.count();
    return {
      requestsOk: ok,
      accepted: before?.bsp.accepted,
      queuedAtSignal: before?.bsp.queued,
      exportedBeforeSignal: before?.bsp.exported,
      received: count.spans,
      collector: count,
      exit,
      timeoutMs,
      stderr: app.stderr(),
    };
  } finally {
    await app.kill();
    if (!shared) await collector.stop();
  }
}

/** The burst (burst.mjs) against a live collector; returns its report and the collector's count. */
export async function runBurst({
  spans = 100_000,
  ticks = undefined,
  nodeBin = process.execPath,
  collector: shared,
} = {}) {
  const collector = shared ?? (await startCollector());
  await collector.setMode('ok');
  await collector.reset();
  try {
    const p = spawn(nodeBin, [join(here, 'burst.mjs')], {
      env: {
        ...process.env,
        OTLP_URL: collector.tracesUrl,
        SPANS: String(spans),
        ...(ticks === undefined ? {} : { TICKS: String(ticks) }),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => {
      out += d;
    });
    p.stderr.on('data', (d) => {
      err += d;
    });
    const code = await new Promise((resolve) => p.once('exit', resolve));
    const report = out.trim() ? JSON.parse(out.trim().split('\n').pop()) : undefined;
    return { code, report, collector: await collector.count(), stderr: err };
  } finally {
    if (!shared) await collector.stop();
  }
}

/**
 * Throughput under a fault on a noisy machine: one app, the collector switched between `ok` and
 * `mode` every `seconds`, `rounds` times each, alternated, so slow drifts of the machine's load hit
 * both states alike. Returns the per-window figures and the medians per state.
 */
export async function runAlternating({
  mode,
  rounds = 6,
  seconds = 5,
  connections = 50,
  collector,
  nodeBin,
  appCore,
  loadCore,
  loader = 'wrk',
}) {
  await collector.setMode('ok');
  const app = await startApp({
    env: { OTLP_URL: collector.tracesUrl, OTEL_LOG_LEVEL: 'warn' },
    nodeBin,
    core: appCore,
  });
  const url = `${app.base}/users/42`;
  const loadFor = (s) => (loader === 'wrk' ? wrkLoad(url, s, connections, loadCore) : nodeLoad(url, s, 8));
  const windows = [];
  try {
    await loadFor(3); // warm-up
    for (let i = 0; i < rounds * 2; i++) {
      const state = i % 2 === 0 ? 'ok' : mode;
      await collector.setMode(state);
      const r = await loadFor(seconds);
      windows.push({ state, rps: r.rps, p99: r.p99, failed: r.failed, rss: rssMiB(app.pid) });
    }
  } finally {
    await collector.setMode('ok');
    await app.kill();
  }
  const median = (xs) => {
    const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
    return s.length
      ? s.length % 2
        ? s[s.length >> 1]
        : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
      : Number.NaN;
  };
  const of = (state, k) => median(windows.filter((w) => w.state === state).map((w) => w[k]));
  return {
    mode,
    windows,
    up: { rps: of('ok', 'rps'), p99: of('ok', 'p99') },
    fault: { rps: of(mode, 'rps'), p99: of(mode, 'p99') },
    failed: windows.reduce((a, w) => a + w.failed, 0),
  };
}

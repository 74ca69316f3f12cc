#!/usr/bin/env node
// `npm run reliability -w @tracewire/bench`: the long, measured form of the fault-injection suite
// (issue #8). Writes the figures into docs/reliability.md (between the reliability-figures markers)
// and the raw results into apps/bench/results/reliability.json.
//
//   options: --quick (short windows, proves it runs)  --faults down,503,...  --fault 30 --down 60
//            --baseline 10 --recovery 10 --connections 50 --node 20|24 --no-docs
//
// Each collector fault runs in one process lifetime of the app: collector up (baseline), the fault,
// collector up again (recovery), so the figures are side by side. The app (src/reliability/app.cjs:
// Express + tracewire, 100% sampling, default batch settings) runs pinned to core 0; wrk
// (50 connections) and the collector run pinned to core 1.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  hasWrk,
  runAlternating,
  runBurst,
  runCollectorFault,
  runShutdown,
  startCollector,
} from './harness.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..', '..', '..');
const args = process.argv.slice(2);
const flag = (n) => args.includes(`--${n}`);
const opt = (n, d) => {
  const i = args.indexOf(`--${n}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1] : d;
};
// The app processes load the built packages (as a user's app would): build them first.
for (const pkg of ['core', 'express']) {
  for (const f of ['index.cjs', 'index.js']) {
    if (!existsSync(join(root, 'packages', pkg, 'dist', f))) {
      console.error(`packages/${pkg}/dist/${f} is missing: run \`npm run build\` first`);
      process.exit(1);
    }
  }
}
const quick = flag('quick');
const faultSeconds = Number(opt('fault', quick ? 3 : 30));
const downSeconds = Number(opt('down', quick ? 3 : 60));
const baselineSeconds = Number(opt('baseline', quick ? 2 : 10));
const recoverySeconds = Number(opt('recovery', quick ? 2 : 10));
const connections = Number(opt('connections', 50));
const writeDocs = !quick && !flag('no-docs');
let nodeBin = process.execPath;
if (opt('node', '20') === '24') {
  const { ensureNode24 } = await import(join(root, 'scripts', 'node24.mjs'));
  nodeBin = ensureNode24();
}
const nodeVersion = execFileSync(nodeBin, ['--version'], { encoding: 'utf8' }).trim();
const EXPORT_TIMEOUT_MS = 10_000; // the default (OTEL_EXPORTER_OTLP_TIMEOUT unset)
const FAULTS = [
  { mode: 'down', label: 'down (connection refused)', seconds: downSeconds },
  {
    mode: 'slow',
    label: `slow (answers after ${EXPORT_TIMEOUT_MS + 2000} ms)`,
    params: { delay: EXPORT_TIMEOUT_MS + 2000 },
  },
  { mode: '503', label: '503 + Retry-After: 2', params: { retryAfter: 2 } },
  { mode: '429', label: '429 (no Retry-After)' },
  { mode: '400', label: '400' },
  { mode: '500', label: '500' },
  { mode: 'hang', label: 'hang (accepts, never answers)' },
  { mode: 'reset', label: 'reset mid-body' },
];
const only = opt('faults', '').split(',').filter(Boolean);
const faults = only.length ? FAULTS.filter((f) => only.includes(f.mode)) : FAULTS;

const log = (...a) => console.log(...a);
const f0 = (x) => (Number.isFinite(x) ? x.toFixed(0) : 'n/a');
const f1 = (x) => (Number.isFinite(x) ? x.toFixed(1) : 'n/a');
const f2 = (x) => (Number.isFinite(x) ? x.toFixed(2) : 'n/a');
const started = new Date();
const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
const loadAtStart = loadavg();

// 1. Bytes per queued span: what the queue bound means in memory.
const spanBytes = JSON.parse(
  execFileSync(nodeBin, ['--expose-gc', join(here, 'span-bytes.mjs')], { encoding: 'utf8' }).trim(),
).bytesPerSpan;
const QUEUE = 2048;
const BATCH = 512;
const tracingMiB = ((QUEUE + 2 * BATCH) * spanBytes) / 2 ** 20;
const RSS_SLACK_MIB = 64;
log(`bytes per queued span: ${spanBytes}; queue + 2 batches in flight: ${f1(tracingMiB)} MiB`);

// 2. Collector faults under load.
const collector = await startCollector({ core: 1 });
const faultRows = [];
for (const f of faults) {
  const seconds = {
    warmup: quick ? 1 : 5,
    baseline: baselineSeconds,
    fault: f.seconds ?? faultSeconds,
    recovery: recoverySeconds,
  };
  log(
    `\nfault ${f.label}: ${seconds.baseline} s up, ${seconds.fault} s fault, ${seconds.recovery} s up again`,
  );
  const r = await runCollectorFault({
    mode: f.mode,
    modeParams: f.params ?? {},
    seconds,
    loader: hasWrk ? 'wrk' : 'node',
    connections,
    rssEveryMs: 1000,
    collector,
    appCore: 0,
    loadCore: 1,
    nodeBin,
    env: {},
  });
  const bound = r.rss.baselineMax + tracingMiB + RSS_SLACK_MIB;
  const s = r.stats.end.bsp;
  const row = {
    ...f,
    seconds,
    baseline: r.baseline,
    fault: r.fault,
    recovery: r.recovery,
    rpsRatio: r.fault.rps / r.baseline.rps,
    p99Ratio: r.fault.p99 / r.baseline.p99,
    rssBaselineMax: r.rss.baselineMax,
    rssFaultMax: r.rss.faultMax,
    rssHalves: r.rss.faultHalves,
    rssBound: bound,
    withinBound: r.rss.max < bound,
    droppedInFault: r.droppedInFault,
    queueFullReports: r.diag.queueFull.length,
    exportFailedReports: r.diag.exportFailed.length,
    diagSample: r.diagAll.all.slice(0, 3),
    exact:
      s.queued + s.exporting === 0 &&
      s.accepted === s.exported + s.dropped + s.failed &&
      r.collector.end.spans === s.exported,
    stats: s,
    collectorSpans: r.collector.end.spans,
    spansInRecovery: r.spansInRecovery,
    resumedAfterMs: r.resumedAfterMs,
    requestsInFault: r.requestsInFault,
    retriesInFault: r.retriesInFault,
    statusesInFault: Object.fromEntries(
      Object.entries(r.collector.fault.statuses)
        .map(([k, v]) => [k, v - (r.collector.before.statuses[k] ?? 0)])
        .filter(([, v]) => v > 0),
    ),
    attempts: r.attempts,
  };
  faultRows.push(row);
  log(
    `  req/s ${f0(r.baseline.rps)} -> ${f0(r.fault.rps)} (${f2(row.rpsRatio)})  p99 ${f1(r.baseline.p99)} -> ${f1(r.fault.p99)} ms (${f2(row.p99Ratio)})  failed ${r.fault.failed}`,
  );
  log(
    `  RSS max ${f0(r.rss.baselineMax)} -> ${f0(r.rss.faultMax)} MiB (bound ${f0(bound)}), halves ${f0(r.rss.faultHalves.first)} / ${f0(r.rss.faultHalves.second)}  dropped ${r.droppedInFault}  queue-full reports ${r.diag.queueFull.length}`,
  );
  log(
    `  exact ${row.exact}  resumed after ${row.resumedAfterMs} ms  retries ${r.retriesInFault}  attempts ${JSON.stringify(r.attempts)}`,
  );
}

// 2a. Throughput and p99, collector up vs fault, alternated in short windows (robust to a noisy machine).
const altRounds = Number(opt('alt-rounds', quick ? 1 : 6));
const altSeconds = Number(opt('alt-seconds', quick ? 2 : 5));
const alternating = [];
for (const mode of only.length
  ? faults.map((f) => f.mode).filter((m) => ['down', 'hang', '503'].includes(m))
  : ['down', 'hang', '503']) {
  const r = await runAlternating({
    mode,
    rounds: altRounds,
    seconds: altSeconds,
    connections,
    collector,
    nodeBin,
    appCore: 0,
    loadCore: 1,
    loader: hasWrk ? 'wrk' : 'node',
  });
  alternating.push(r);
  log(
    `alternating up/${mode}: req/s ${f0(r.up.rps)} vs ${f0(r.fault.rps)}, p99 ${f1(r.up.p99)} vs ${f1(r.fault.p99)} ms, failed ${r.failed}`,
  );
}

// 2b. The same fault without OTEL_LOG_LEVEL: does a user see the drops?
log('\ncollector down without OTEL_LOG_LEVEL (what a user sees by default)');
const silent = await runCollectorFault({
  mode: 'down',
  seconds: { warmup: 1, baseline: 2, fault: quick ? 3 : 15, recovery: 2 },
  loader: hasWrk ? 'wrk' : 'node',
  connections,
  collector,
  appCore: 0,
  loadCore: 1,
  nodeBin,
  env: { OTEL_LOG_LEVEL: '' },
});
const silentRow = {
  dropped: silent.droppedInFault,
  stderrLines: silent.stderr.split('\n').filter(Boolean).length,
};
log(`  dropped ${silentRow.dropped}, stderr lines ${silentRow.stderrLines}`);

// 3. Graceful shutdown (default export timeout, 10 s).
const shutdownRows = [];
for (const mode of ['ok', 'down', 'hang']) {
  const requests = mode === 'ok' ? 2000 : 500;
  const r = await runShutdown({
    collectorMode: mode,
    requests,
    timeoutMs: EXPORT_TIMEOUT_MS,
    nodeBin,
    collector,
  });
  shutdownRows.push({
    mode,
    requests,
    accepted: r.accepted,
    queued: r.queuedAtSignal,
    received: r.received,
    exit: r.exit,
  });
  log(
    `shutdown (${mode}): accepted ${r.accepted}, queued ${r.queuedAtSignal}, received ${r.received}, exit ${r.exit.signal ?? r.exit.code} after ${r.exit.ms} ms`,
  );
}

// 4. Burst.
const burst = await runBurst({ spans: 100_000, nodeBin, collector });
log(`burst: ${JSON.stringify({ ...burst.report, samples: undefined })}`);
await collector.stop();

// 5. Bad input: worst-case time per adversarial request.
const timing = JSON.parse(
  execFileSync(nodeBin, [join(here, 'badinput-timing.mjs')], {
    encoding: 'utf8',
    env: { ...process.env, ROUNDS: quick ? '3' : '9' },
    maxBuffer: 1 << 24,
  })
    .trim()
    .split('\n')
    .pop(),
);
log('\nbad input timings done');

// Report.
const finished = new Date();
const cpu = cpus()[0]?.model ?? 'unknown';
let md = '';
md += `Measured ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC with \`npm run reliability -w @tracewire/bench\`, Node ${nodeVersion}, `;
md += `${cpus().length} × ${cpu}, ${f0(totalmem() / 2 ** 30)} GiB RAM, load average at start ${loadAtStart} `;
md += `(the machine was shared with other work during the run: throughput and latency figures are noisy; the correctness columns are not).\n\n`;
md += `App: Express 5 + \`@tracewire/express\`, \`start()\` defaults (queue ${QUEUE}, batch ${BATCH}, schedule delay 5000 ms, export timeout ${EXPORT_TIMEOUT_MS} ms), 100% sampling, pinned to core 0; `;
md += `load: ${hasWrk ? 'wrk' : 'autocannon-like Node loader'}, ${connections} connections, pinned to core 1 with the collector. `;
md += `Each row is one run: ${baselineSeconds} s collector up, then the fault, then ${recoverySeconds} s collector up again.\n\n`;
md += '#### Collector faults under load\n\n';
md +=
  '| fault | fault window | req/s: up → fault → up again (fault / first up) | p99 ms: up → fault → up again (fault / first up) | failed requests | RSS MiB: up max → fault max (bound) | RSS fault 1st / 2nd half | spans dropped | queue-full reports | every span accounted for | export resumed after |\n';
md += '|---|---:|---:|---:|---:|---:|---:|---:|---:|:-:|---:|\n';
for (const r of faultRows) {
  md += `| ${r.label} | ${r.seconds.fault} s | ${f0(r.baseline.rps)} → ${f0(r.fault.rps)} → ${f0(r.recovery.rps)} (**${f2(r.rpsRatio)}**) | ${f1(r.baseline.p99)} → ${f1(r.fault.p99)} → ${f1(r.recovery.p99)} (**${f2(r.p99Ratio)}**) | ${r.baseline.failed + r.fault.failed + r.recovery.failed}${(r.baseline.timeouts ?? 0) + (r.fault.timeouts ?? 0) + (r.recovery.timeouts ?? 0) > 0 ? ` (wrk timeouts: ${(r.baseline.timeouts ?? 0) + (r.fault.timeouts ?? 0) + (r.recovery.timeouts ?? 0)})` : ''} | ${f0(r.rssBaselineMax)} → ${f0(r.rssFaultMax)} (${f0(r.rssBound)}) ${r.withinBound ? '✔' : '✘'} | ${f0(r.rssHalves.first)} / ${f0(r.rssHalves.second)} | ${r.droppedInFault} | ${r.queueFullReports} | ${r.exact ? '✔' : '✘'} | ${r.resumedAfterMs === undefined ? 'never ✘' : `${f1(r.resumedAfterMs / 1000)} s`} |\n`;
}
if (alternating.length) {
  md += `\nThroughput and p99 with the collector up vs in a fault, **alternated**: ${altRounds} windows of ${altSeconds} s in each state, in turn, in one app process (so the machine's drifting load hits both alike); medians:\n\n`;
  md +=
    '| fault | req/s up | req/s fault | ratio | p99 ms up | p99 ms fault | ratio | failed requests |\n|---|---:|---:|---:|---:|---:|---:|---:|\n';
  for (const r of alternating) {
    md += `| ${FAULTS.find((f) => f.mode === r.mode)?.label ?? r.mode} | ${f0(r.up.rps)} | ${f0(r.fault.rps)} | **${f2(r.fault.rps / r.up.rps)}** | ${f1(r.up.p99)} | ${f1(r.fault.p99)} | **${f2(r.fault.p99 / r.up.p99)}** | ${r.failed} |\n`;
  }
}
md += `\nRSS bound = the collector-up peak + (${QUEUE} queued + 2 × ${BATCH} in flight) × ${spanBytes} B per span (measured by \`span-bytes.mjs\`, ${f1(tracingMiB)} MiB) + ${RSS_SLACK_MIB} MiB for V8 heap growth.\n\n`;
md += '#### Retries as the collector saw them (SPEC.md §1)\n\n';
md +=
  '| fault | exporter requests in the fault window | retries | collector answers | exports seen | most attempts of one export | shortest gap after a fault answer | longest first → last attempt |\n';
md += '|---|---:|---:|---|---:|---:|---:|---:|\n';
for (const r of faultRows) {
  const a = r.attempts;
  md += `| ${r.label} | ${r.requestsInFault} | ${r.retriesInFault} | ${
    Object.entries(r.statusesInFault)
      .map(([k, v]) => `${k}×${v}`)
      .join(', ') ||
    (r.mode === 'down'
      ? '(connection refused)'
      : r.mode === 'hang'
        ? '(no answer)'
        : r.mode === 'reset'
          ? '(connection reset)'
          : '(none)')
  } | ${a.bodies} | ${a.maxAttempts} | ${Number.isFinite(a.minGapAfterFault) ? `${a.minGapAfterFault} ms` : '–'} | ${a.maxSpan} ms |\n`;
}
md += `\nWithout \`OTEL_LOG_LEVEL\`: ${silentRow.dropped} spans were dropped during a ${quick ? 3 : 15} s outage and the app printed ${silentRow.stderrLines} line(s) to stderr.\n\n`;
md += '#### Graceful shutdown (SIGTERM, tracewire the only listener)\n\n';
md +=
  '| collector | spans queued at the signal | received by the collector | process exit | time to exit (export timeout 10 s) |\n|---|---:|---:|---|---:|\n';
for (const r of shutdownRows) {
  md += `| ${r.mode === 'ok' ? 'live' : r.mode === 'down' ? 'dead (connection refused)' : 'dead (accepts, never answers)'} | ${r.queued} | ${r.received} | ${r.exit.signal ?? `code ${r.exit.code}`} | ${r.exit.ms} ms |\n`;
}
const b = burst.report;
md += '\n#### Burst: 100,000 spans within one second, default queue\n\n';
md +=
  '| created in | exported | dropped | failed | exported + dropped + failed | collector received | RSS before → max | flush at shutdown |\n|---:|---:|---:|---:|---:|---:|---:|---:|\n';
md += `| ${f0(b.createMs)} ms | ${b.stats.exported} | ${b.stats.dropped} | ${b.stats.failed} | ${b.stats.exported + b.stats.dropped + b.stats.failed} | ${burst.collector.spans} | ${f0(b.rssBefore)} → ${f0(b.rssMax)} MiB | ${f0(b.flushMs)} ms |\n`;
md += '\n#### Bad input: time per request (ms, median / max of several; bare Express vs traced)\n\n';
md += '| request | size | status | bare | traced |\n|---|---:|---:|---:|---:|\n';
for (const t of timing) {
  md += `| ${t.name} | ${t.bytes >= 1024 ? `${f0(t.bytes / 1024)} KiB` : `${t.bytes} B`} | ${t.status} | ${f1(t.bareMs.median)} / ${f1(t.bareMs.max)} | ${f1(t.tracedMs.median)} / ${f1(t.tracedMs.max)} |\n`;
}
const worst = timing.reduce(
  (w, t) => (t.tracedMs.median - t.bareMs.median > w.d ? { d: t.tracedMs.median - t.bareMs.median, t } : w),
  { d: -Infinity, t: undefined },
);
md += `\nWorst case: ${worst.t?.name} (${f1(worst.d)} ms more than without tracing, median).\n`;
md += `\nRun took ${f0((finished - started) / 60000)} min.\n`;

console.log(`\n${md}`);
const outDir = join(root, 'apps', 'bench', 'results');
mkdirSync(outDir, { recursive: true });
writeFileSync(
  join(outDir, quick ? 'reliability-quick.json' : 'reliability.json'),
  JSON.stringify(
    {
      nodeVersion,
      started,
      finished,
      spanBytes,
      faultRows,
      alternating,
      silentRow,
      shutdownRows,
      burst: b,
      timing,
    },
    null,
    2,
  ),
);
if (writeDocs) {
  const doc = join(root, 'docs', 'reliability.md');
  const START = '<!-- reliability-figures:start -->';
  const END = '<!-- reliability-figures:end -->';
  const text = existsSync(doc) ? readFileSync(doc, 'utf8') : `${START}\n${END}\n`;
  const i = text.indexOf(START);
  const j = text.indexOf(END);
  if (i < 0 || j < i) {
    console.error(`docs/reliability.md has no ${START} … ${END} markers; figures not written`);
    process.exitCode = 1;
  } else {
    writeFileSync(doc, `${text.slice(0, i + START.length)}\n${md}\n${text.slice(j)}`);
    console.log('figures written to docs/reliability.md');
  }
}

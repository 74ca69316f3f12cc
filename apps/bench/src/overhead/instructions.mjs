// Instructions per request, measured with Valgrind's callgrind: a count of executed machine
// instructions is repeatable on a loaded, shared machine where req/s is not.
//
//   node apps/bench/src/overhead/instructions.mjs [--frameworks express,koa,fastify]
//        [--modes bare,tracewire,tracewire-unsampled,official] [--warmup 25000] [--requests 2000]
//        [--node /path/to/node] [--source]
//
// For each framework and mode: the benchmark server (server.cjs) runs under
// `valgrind --tool=callgrind` with counting off; this process (not under valgrind) sends `warmup`
// requests over keep-alive (so V8 has optimised the hot path), switches counting on with
// `callgrind_control --instr=on`, sends `requests` more, switches it off, and reads the total
// instruction count (Ir) of that window: every thread of the server process (main thread, GC and
// compiler threads, libuv), so batch export (encode + send to the sink) is included, amortised.
// `--source` runs tracewire from its TypeScript sources (bundled with esbuild to a temp dir)
// instead of the packages' dist builds.
// `--functions N` also prints, per mode, the N functions with the most instructions per request
// (self, not inclusive) and, against `bare`, the N that grew most: the server runs with
// `--perf-basic-prof`, so JIT code is named from V8's perf map (`/tmp/perf-<pid>.map`) instead of
// callgrind's `???:0x…` addresses. Function names of JIT code carry V8's tier (`*` TurboFan, `+`
// Maglev, `^` Sparkplug): `+` on the request path means the warm-up was too short.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startProcess, stopProcess } from './run.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../../../..');

const { values } = parseArgs({
  options: {
    frameworks: { type: 'string', default: 'express,koa,fastify' },
    modes: { type: 'string', default: 'bare,tracewire,tracewire-unsampled,official' },
    // V8 moves a function called once per request to its top tier (TurboFan) only after a few
    // thousand calls in its mid tier (Maglev): with 3,000-4,000 warm-up requests much of the server
    // still ran Maglev code (generic LoadIC/KeyedStoreIC calls; bare Fastify counted 74k instructions
    // per request instead of 54k), which is not what a server under load runs. Checked with
    // NODE_OPTIONS=--perf-basic-prof: after 25,000 requests the request path is TurboFan code.
    warmup: { type: 'string', default: '25000' },
    requests: { type: 'string', default: '2000' },
    connections: { type: 'string', default: '4' },
    node: { type: 'string', default: process.execPath },
    source: { type: 'boolean', default: false },
    json: { type: 'string' },
    'bundle-only': { type: 'boolean', default: false },
    keep: { type: 'string' },
    bundle: { type: 'string' },
    functions: { type: 'string' },
  },
});
const topFunctions = values.functions === undefined ? 0 : Number(values.functions);

/**
 * Bundle @tracewire/* from src (esbuild) so a measurement reflects the working tree, not a stale dist.
 * Two files: `tracewire.cjs` (core and the Express, Koa and Fastify adapters; its path is returned)
 * and beside it `tracewire-nestjs.cjs`, the same plus the Nest module, which the nest-* servers load
 * instead (it requires Nest at load time, which the other servers must not).
 */
function bundleSources(dir) {
  const lines = [
    `export { start } from '${root}/packages/core/src/index.ts';`,
    `export { tracewire as express } from '${root}/packages/express/src/index.ts';`,
    `export { tracewire as koa } from '${root}/packages/koa/src/index.ts';`,
    `export { tracewire as fastify } from '${root}/packages/fastify/src/index.ts';`,
  ];
  const build = (name, entryLines) => {
    const entry = join(dir, `${name}.entry.ts`);
    writeFileSync(entry, entryLines.join('\n'));
    const out = join(dir, `${name}.cjs`);
    execFileSync(
      join(root, 'node_modules/.bin/esbuild'),
      [
        entry,
        '--bundle',
        '--platform=node',
        '--format=cjs',
        '--target=node20',
        `--outfile=${out}`,
        // No --keep-names: it wraps every function expression in a `__name()` call that defines its
        // `name` property, which for a closure made per request (Express's `onClose`) is a
        // defineProperty per request, ~0.7 µs in a profile, that the published builds (tsup) do not
        // have. Without it esbuild may suffix a colliding name in profiles (`tracewire2`).
        '--external:@opentelemetry/api',
        '--external:fastify-plugin',
        // Nest and its peers stay the app's own copies (Nest checks `instanceof` against them).
        '--external:@nestjs/*',
        '--external:rxjs',
        '--external:reflect-metadata',
        `--alias:@tracewire/core=${root}/packages/core/src/index.ts`,
        `--alias:@tracewire/express=${root}/packages/express/src/index.ts`,
        `--alias:@tracewire/fastify=${root}/packages/fastify/src/index.ts`,
        '--log-level=warning',
      ],
      { cwd: root, stdio: 'inherit' },
    );
    return out;
  };
  build('tracewire-nestjs', [
    ...lines,
    `export { TracewireModule } from '${root}/packages/nestjs/src/index.ts';`,
  ]);
  return build('tracewire', lines);
}

function send(port, agent, n, connections) {
  let left = n;
  const one = () =>
    new Promise((res, rej) => {
      const req = request({ host: '127.0.0.1', port, path: `/users/${left}`, agent }, (r) => {
        r.resume();
        r.on('end', res);
      });
      req.on('error', rej);
      req.end();
    });
  const worker = async () => {
    while (left > 0) {
      left--;
      // A keep-alive socket the (slow, instrumented) server timed out just as a request went out:
      // retry once on a new connection.
      await one().catch(one);
    }
  };
  return Promise.all(Array.from({ length: connections }, worker));
}

async function measure(framework, mode, sinkUrl, env) {
  const dir = mkdtempSync(join(tmpdir(), 'tw-cg-'));
  const out = join(dir, 'callgrind.out.%p');
  const args = [
    '--tool=callgrind',
    '--instr-atstart=no',
    '--smc-check=all-non-file',
    '--dump-line=no',
    `--callgrind-out-file=${out}`,
    values.node,
    join(here, 'server.cjs'),
    framework,
    mode,
  ];
  const perf =
    topFunctions > 0 ? { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --perf-basic-prof`.trim() } : {};
  const { child, port } = await startProcess('valgrind', args, {
    ...env,
    ...perf,
    OTLP_URL: `${sinkUrl}/v1/traces`,
  });
  const agent = new Agent({ keepAlive: true, maxSockets: Number(values.connections) });
  const conns = Number(values.connections);
  try {
    await send(port, agent, Number(values.warmup), conns);
    execFileSync('callgrind_control', ['--instr=on', String(child.pid)], { stdio: 'ignore' });
    execFileSync('callgrind_control', ['--zero', String(child.pid)], { stdio: 'ignore' });
    await send(port, agent, Number(values.requests), conns);
    // Let the batch processor's timer export what the window queued (amortised export cost).
    await new Promise((r) => setTimeout(r, 1500));
    execFileSync('callgrind_control', ['--dump', String(child.pid)], { stdio: 'ignore' });
  } finally {
    agent.destroy();
    await stopProcess(child, 120_000);
  }
  // `--dump` writes `<out>.1` (the window); the file without a suffix is the shutdown's.
  const file = readdirSync(dir).find((f) => f.endsWith('.1'));
  if (values.keep && file) execFileSync('cp', [join(dir, file), `${values.keep}.${framework}.${mode}`]);
  const text = file === undefined ? '' : readFileSync(join(dir, file), 'utf8');
  const m = /^(?:summary|totals):\s+(\d+)/m.exec(text);
  const ir = m ? Number(m[1]) : Number.NaN;
  // JIT compilation (TurboFan/Maglev, mostly on background threads) still running in the window
  // is warm-up, not per-request cost, and varies run to run by tens of thousands of instructions
  // per request: it is counted separately and left out of the figure.
  const n = Number(values.requests);
  let compiler = 0;
  const functions = new Map();
  if (file !== undefined) {
    const annotated = execFileSync(
      'callgrind_annotate',
      ['--inclusive=no', '--threshold=100', join(dir, file)],
      {
        encoding: 'utf8',
        maxBuffer: 64 << 20,
      },
    );
    const named = topFunctions > 0 ? jitNames(annotated) : undefined;
    for (const line of annotated.split('\n')) {
      const a = /^\s*([\d,]+)\s+\([\s\d.]+%\)\s+(.*)$/.exec(line);
      if (!a) continue;
      const count = Number(a[1].replaceAll(',', ''));
      if (/v8::internal::(compiler|maglev|turboshaft)::/i.test(a[2])) compiler += count;
      else if (named !== undefined && !a[2].includes('PROGRAM TOTALS')) {
        const name = named(a[2]);
        functions.set(name, (functions.get(name) ?? 0) + count / n);
      }
    }
  }
  rmSync(dir, { recursive: true, force: true });
  return { steady: (ir - compiler) / n, total: ir / n, compiler: compiler / n, functions };
}

/**
 * Names for callgrind's function column: JIT code (`???:0x…`) from the server's V8 perf map, the
 * rest with callgrind's object prefix and the repository path removed. The map is deleted after use
 * (kept with `--keep`, for reading callers with callgrind_annotate --tree=caller).
 */
function jitNames(annotated) {
  const pid = /\(PID (\d+)/.exec(annotated)?.[1];
  const file = `/tmp/perf-${pid}.map`;
  let map = [];
  try {
    map = readFileSync(file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => {
        const [a, size, ...name] = l.split(' ');
        return [Number.parseInt(a, 16), Number.parseInt(size, 16), name.join(' ')];
      })
      .sort((x, y) => x[0] - y[0]);
    if (!values.keep) rmSync(file, { force: true }); // --keep: kept beside the callgrind file's PID
  } catch {
    process.stderr.write(`no perf map ${file}: JIT code stays unnamed\n`);
  }
  const find = (addr) => {
    let lo = 0;
    let hi = map.length - 1;
    let best = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (map[mid][0] <= addr) {
        best = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return best >= 0 && addr < map[best][0] + map[best][1] ? map[best][2] : undefined;
  };
  return (column) => {
    const name = column.replace(/ \[.*\]$/, '');
    const jit = /^\?\?\?:0x([0-9a-f]+)/.exec(name);
    if (jit)
      return (find(Number.parseInt(jit[1], 16)) ?? '(unnamed JIT code)')
        .replace(/^JS:/, '')
        .replaceAll(`${root}/`, '');
    return name.replace(/^\?\?\?:/, '').replaceAll(`${root}/`, '');
  };
}

/** The top functions of each mode, and what grew most against `bare` (instructions per request). */
function printFunctions(framework, byMode) {
  const fmt = (rows) =>
    rows.map(([name, v]) => `${Math.round(v).toString().padStart(8)}  ${name.slice(0, 150)}`).join('\n');
  const bare = byMode.get('bare');
  for (const [mode, fns] of byMode) {
    const top = [...fns].sort((a, b) => b[1] - a[1]).slice(0, topFunctions);
    console.log(
      `\n${framework} ${mode}: top ${topFunctions} functions (self instructions per request)\n${fmt(top)}`,
    );
    if (bare === undefined || mode === 'bare') continue;
    const grew = [...new Set([...fns.keys(), ...bare.keys()])]
      .map((k) => [k, (fns.get(k) ?? 0) - (bare.get(k) ?? 0)])
      .sort((a, b) => b[1] - a[1])
      .slice(0, topFunctions);
    console.log(`\n${framework} ${mode} against bare: the ${topFunctions} that grew most\n${fmt(grew)}`);
  }
}

// Inside the repository so the bundle resolves @opentelemetry/api and fastify-plugin from node_modules.
const cache = join(root, 'node_modules/.cache/tracewire-instructions');
mkdirSync(cache, { recursive: true });
const tmp = mkdtempSync(join(cache, 'src-'));
const env = {};
if (values.source) env.TRACEWIRE_BUNDLE = bundleSources(tmp);
else if (values.bundle) env.TRACEWIRE_BUNDLE = resolve(values.bundle);
if (env.TRACEWIRE_BUNDLE) process.stderr.write(`tracewire from ${env.TRACEWIRE_BUNDLE}\n`);
if (values['bundle-only']) process.exit(0);
const sink = await startProcess(process.execPath, [join(here, 'sink.mjs')]);
const sinkUrl = `http://127.0.0.1:${sink.port}`;
const results = [];
try {
  for (const framework of values.frameworks.split(',')) {
    const row = { framework };
    const functionsByMode = new Map();
    for (const mode of values.modes.split(',')) {
      await fetch(`${sinkUrl}/reset`, { method: 'POST' });
      const r = await measure(framework, mode, sinkUrl, env);
      row[mode] = Math.round(r.steady);
      row[`${mode}:total`] = Math.round(r.total);
      row[`${mode}:compiler`] = Math.round(r.compiler);
      const count = await (await fetch(`${sinkUrl}/count`)).json();
      row[`${mode}:spans`] = count.spans;
      if (topFunctions > 0) functionsByMode.set(mode, r.functions);
      process.stderr.write(
        `${framework} ${mode}: ${row[mode]} instructions/request without JIT compilation ` +
          `(total ${row[`${mode}:total`]}, compiler ${row[`${mode}:compiler`]}; ${count.spans} spans at sink)\n`,
      );
    }
    results.push(row);
    if (topFunctions > 0) printFunctions(framework, functionsByMode);
  }
} finally {
  await stopProcess(sink.child);
  rmSync(tmp, { recursive: true, force: true });
}

const modes = values.modes.split(',');
const lines = [
  `| framework | ${modes.join(' | ')} |`,
  `|---|${modes.map(() => '---:').join('|')}|`,
  ...results.map(
    (r) =>
      `| ${r.framework} | ${modes
        // the difference to bare only when bare was measured (not `+NaN`)
        .map((m) => (m === 'bare' || r.bare === undefined ? `${r[m]}` : `${r[m]} (+${r[m] - r.bare})`))
        .join(' | ')} |`,
  ),
];
console.log(lines.join('\n'));
if (values.json) writeFileSync(values.json, JSON.stringify(results, null, 2));

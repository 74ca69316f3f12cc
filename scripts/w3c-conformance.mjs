#!/usr/bin/env node
// Runs the official W3C Trace Context conformance suite (github.com/w3c/trace-context, `test/test.py`)
// against an Express app traced by @tracewire/express, which makes the harness's calls with plain
// `fetch` (so propagation goes through tracewire's outgoing tracing). The suite is NOT vendored:
//
//   git clone https://github.com/w3c/trace-context /path/to/trace-context
//   W3C_TRACE_CONTEXT_DIR=/path/to/trace-context node scripts/w3c-conformance.mjs
//
// Without W3C_TRACE_CONTEXT_DIR it prints why it skipped and exits 0. It needs Python 3 with aiohttp
// (Debian: `apt-get install python3-aiohttp`); set W3C_PYTHON to choose the interpreter (default: the
// first of /usr/bin/python3 and python3 that can import aiohttp). It runs the suite with
// STRICT_LEVEL=2 SPEC_LEVEL=2 (override with the same variables) and exits with the suite's status.
// Uses the built packages (`npm run build` first), like an application would; to run on the
// TypeScript sources instead: `npx vite-node --config vitest.shared.ts scripts/w3c-conformance.mjs`.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';

const dirEnv = process.env.W3C_TRACE_CONTEXT_DIR;
if (!dirEnv) {
  console.log(
    'W3C Trace Context suite: SKIPPED (W3C_TRACE_CONTEXT_DIR is not set).\n' +
      '  To run it: git clone https://github.com/w3c/trace-context <dir> && ' +
      'W3C_TRACE_CONTEXT_DIR=<dir> node scripts/w3c-conformance.mjs',
  );
  process.exit(0);
}

/** Accept the checkout's root or its `test/` directory. */
const dir = resolve(dirEnv);
const testDir = [join(dir, 'test'), dir].find((d) => existsSync(join(d, 'test.py')));
if (!testDir) {
  console.error(`W3C Trace Context suite: no test/test.py under W3C_TRACE_CONTEXT_DIR=${dir}`);
  process.exit(1);
}

const python = findPython();
if (!python) {
  console.error(
    'W3C Trace Context suite: no Python 3 with aiohttp found (tried W3C_PYTHON, /usr/bin/python3, python3).\n' +
      '  Debian/Ubuntu: apt-get install python3-aiohttp; elsewhere: pip install aiohttp',
  );
  process.exit(1);
}

function findPython() {
  const candidates = [process.env.W3C_PYTHON, '/usr/bin/python3', 'python3'].filter(Boolean);
  for (const p of candidates) {
    const r = spawnSync(p, ['-c', 'import aiohttp'], { stdio: 'ignore' });
    if (r.status === 0) return p;
  }
  return undefined;
}

/** A free TCP port on 127.0.0.1 for the harness's callback server (its default, 7777, may be taken). */
function freePort() {
  return new Promise((resolvePort, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolvePort(port));
    });
  });
}

// Nothing is exported: the suite only looks at the headers the service sends. `start()` reads the
// rest of its configuration from OTEL_* like any application (propagators default to
// `tracecontext,baggage`).
process.env.OTEL_TRACES_EXPORTER ??= 'none';
process.env.OTEL_SERVICE_NAME ??= 'w3c-trace-context-conformance';

let core;
let expressAdapter;
let express;
try {
  core = await import('@tracewire/core');
  expressAdapter = await import('@tracewire/express');
  express = (await import('express')).default;
} catch (err) {
  console.error(
    `W3C Trace Context suite: cannot load the tracewire packages (${err.message}).\n` +
      '  Build them first (npm run build), or run on sources: npx vite-node --config vitest.shared.ts scripts/w3c-conformance.mjs',
  );
  process.exit(1);
}

if (typeof core.start !== 'function' || typeof expressAdapter.tracewire !== 'function') {
  console.error(
    'W3C Trace Context suite: @tracewire/core has no start() or @tracewire/express no tracewire(); rebuild the packages',
  );
  process.exit(1);
}
// start() registers tracewire's SDK and W3C propagators and turns on outgoing tracing (its
// `outgoing` option), so the plain `fetch` calls below carry the context.
const sdk = core.start();

const app = express();
app.use(expressAdapter.tracewire());
app.use(express.json({ limit: '1mb' }));
// The harness's protocol (test/README.md): POST a JSON array of {url, arguments}; for each element
// the service POSTs `arguments` (JSON) to `url`. Plain fetch: tracewire adds the trace context.
app.post('/test', async (req, res) => {
  const calls = Array.isArray(req.body) ? req.body : [];
  for (const call of calls) {
    if (typeof call?.url !== 'string') continue;
    try {
      const r = await fetch(call.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(call.arguments ?? []),
      });
      await r.arrayBuffer();
    } catch (err) {
      console.error(`  callback to ${call.url} failed: ${err.message}`);
    }
  }
  res.status(200).json({ ok: true });
});

const server = await new Promise((resolveServer) => {
  const s = app.listen(0, '127.0.0.1', () => resolveServer(s));
});
const servicePort = server.address().port;
const harnessPort = await freePort();
const endpoint = `http://127.0.0.1:${servicePort}/test`;

const strict = process.env.STRICT_LEVEL ?? '2';
const spec = process.env.SPEC_LEVEL ?? '2';
console.log(
  `W3C Trace Context suite: ${join(testDir, 'test.py')} against ${endpoint} ` +
    `(STRICT_LEVEL=${strict} SPEC_LEVEL=${spec}, python ${python}, harness port ${harnessPort})`,
);

const child = spawn(python, ['test.py', endpoint, ...process.argv.slice(2)], {
  cwd: testDir,
  env: {
    ...process.env,
    STRICT_LEVEL: strict,
    SPEC_LEVEL: spec,
    HARNESS_HOST: '127.0.0.1',
    HARNESS_PORT: String(harnessPort),
    PYTHONUNBUFFERED: '1',
  },
  stdio: ['ignore', 'inherit', 'pipe'],
});

// unittest reports on stderr: pass it through and keep it for the summary.
let report = '';
child.stderr.on('data', (chunk) => {
  report += chunk;
  process.stderr.write(chunk);
});

const status = await new Promise((resolveStatus) => child.on('close', (code) => resolveStatus(code ?? 1)));
server.close();
await sdk?.shutdown?.();

const ran = /Ran (\d+) tests?/.exec(report);
// `FAIL: test_x (__main__.Suite)` (Python < 3.11) or `FAIL: test_x (__main__.Suite.test_x)` (3.11+).
const failures = [...report.matchAll(/^(FAIL|ERROR): (\S+) \((\S+)\)/gm)].map((m) =>
  m[3].endsWith(`.${m[2]}`) ? `${m[1]} ${m[3]}` : `${m[1]} ${m[3]}.${m[2]}`,
);
const total = ran ? Number(ran[1]) : undefined;
console.log('\nW3C Trace Context suite summary');
if (total === undefined) {
  console.log(`  the suite did not run to the end (exit status ${status})`);
} else {
  console.log(`  ${total - failures.length}/${total} passed (STRICT_LEVEL=${strict} SPEC_LEVEL=${spec})`);
  for (const f of failures) console.log(`  ✘ ${f}`);
}
process.exit(status === 0 && total !== undefined ? 0 : status || 1);

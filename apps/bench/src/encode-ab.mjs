// OTLP protobuf encoding, two source trees compared in one process:
//
//   node apps/bench/src/encode-ab.mjs <before tree> <after tree> [--rounds 15] [--spans 512] [--ids]
//
// Each tree (a checkout of this repository, e.g. a `git worktree` of an older commit) has its core
// package bundled from source with esbuild; each bundle's tracer makes the same batch of HTTP
// server spans (the attributes @tracewire/core's server tracing sets), and the two encoders
// (`encodeTraceRequestView`) take turns encoding it, the order alternating every round. Prints the
// median ns per span of each and the ratio. Encoding only: no context, no export.
//
// `--ids` times the id generators instead (`RandomIdGenerator`: one trace id and one span id per
// pair, 2 million pairs per round) and prints ns per pair.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../../..');
const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    rounds: { type: 'string', default: '15' },
    spans: { type: 'string', default: '512' },
    ids: { type: 'boolean', default: false },
  },
});
if (positionals.length !== 2) {
  console.error(
    'usage: node apps/bench/src/encode-ab.mjs <before tree> <after tree> [--rounds 15] [--spans 512] [--ids]',
  );
  process.exit(2);
}
// Inside node_modules so the bundles resolve @opentelemetry/api from this repository.
const dir = join(root, 'node_modules/.cache/tracewire-encode-ab');
mkdirSync(dir, { recursive: true });
const esbuild = join(root, 'node_modules/.bin/esbuild');

async function load(label, tree) {
  const src = resolve(tree, 'packages/core/src');
  const entry = join(dir, `${label}.ts`);
  writeFileSync(
    entry,
    `export { encodeTraceRequestView } from '${src}/export/otlp-proto.ts';\n` +
      `export { TracewireTracerProvider, AlwaysOnSampler } from '${src}/index.ts';\n` +
      `export { RandomIdGenerator } from '${src}/sdk/id-generator.ts';\n`,
  );
  const out = join(dir, `${label}.mjs`);
  execFileSync(esbuild, [
    entry,
    '--bundle',
    '--platform=node',
    '--format=esm',
    '--external:@opentelemetry/api',
    `--outfile=${out}`,
    '--log-level=warning',
  ]);
  return import(pathToFileURL(out).href);
}

const { SpanKind, ROOT_CONTEXT } = await import('@opentelemetry/api');

/** `n` ended server spans from the bundle's own tracer (so the encoder sees its own span class). */
function serverSpans(m, n) {
  const out = [];
  const provider = new m.TracewireTracerProvider({
    sampler: new m.AlwaysOnSampler(),
    spanProcessors: [
      {
        onStart() {},
        onEnd(s) {
          out.push(s);
        },
        forceFlush: async () => {},
        shutdown: async () => {},
      },
    ],
  });
  const tracer = provider.getTracer('encode-ab');
  for (let i = 0; i < n; i++) {
    const span = tracer.startSpan(
      'GET /users/:id',
      {
        kind: SpanKind.SERVER,
        attributes: {
          'http.request.method': 'GET',
          'url.scheme': 'http',
          'server.address': '127.0.0.1',
          'server.port': 3000,
          'client.address': '127.0.0.1',
          'network.peer.address': '127.0.0.1',
          'network.protocol.version': '1.1',
          'url.path': `/users/${i % 1000}`,
          'network.peer.port': 40000 + (i % 50),
        },
      },
      ROOT_CONTEXT,
    );
    span.setAttribute('http.route', '/users/:id');
    span.setAttribute('http.response.status_code', 200);
    span.end();
  }
  return out;
}

const trees = { before: positionals[0], after: positionals[1] };
const mods = { before: await load('before', trees.before), after: await load('after', trees.after) };
const median = (xs) => xs.sort((a, b) => a - b)[xs.length >> 1];
const times = { before: [], after: [] };

/** Runs `work(k)` for each build in turn, `rounds` times, the order alternating; ns per unit. */
function alternate(units, work) {
  for (let round = 0; round < Number(values.rounds); round++) {
    for (const k of round % 2 ? ['after', 'before'] : ['before', 'after']) {
      const t0 = process.hrtime.bigint();
      work(k);
      times[k].push(Number(process.hrtime.bigint() - t0) / units);
    }
  }
  return { b: median(times.before), a: median(times.after) };
}

if (values.ids) {
  const pairs = 2_000_000;
  const gens = { before: new mods.before.RandomIdGenerator(), after: new mods.after.RandomIdGenerator() };
  let chars = 0;
  const { b, a } = alternate(pairs, (k) => {
    const g = gens[k];
    for (let i = 0; i < pairs; i++) chars += g.generateTraceId().length + g.generateSpanId().length;
  });
  if (chars !== 48 * pairs * 2 * Number(values.rounds)) throw new Error('an id of the wrong length');
  console.log(
    `Node ${process.version}, ids, ${values.rounds} rounds of ${pairs} pairs: before ${b.toFixed(1)} ns/pair, after ${a.toFixed(1)} ns/pair, ratio ${(a / b).toFixed(3)}`,
  );
} else {
  const n = Number(values.spans);
  const spans = { before: serverSpans(mods.before, n), after: serverSpans(mods.after, n) };
  const reps = Math.max(1, Math.round(200_000 / n));
  const { b, a } = alternate(reps * n, (k) => {
    const encode = mods[k].encodeTraceRequestView;
    const batch = spans[k];
    for (let i = 0; i < reps; i++) encode(batch);
  });
  console.log(
    `Node ${process.version}, ${n}-span batches, ${values.rounds} rounds: before ${b.toFixed(1)} ns/span, after ${a.toFixed(1)} ns/span, ratio ${(a / b).toFixed(3)}`,
  );
}

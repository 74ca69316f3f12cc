/**
 * Span creation micro-benchmark: spans created + 10 attributes + ended per second on one core,
 * tracewire's SDK against the official `BasicTracerProvider`, side by side, alternated rounds,
 * medians. Both providers get the same no-op processor (it only counts), AlwaysOn sampling, and the
 * API's default (no-op) context manager, so what is measured is the SDK's own per-span cost.
 *
 * Run from the repository root (bundles tracewire from source, no build needed):
 *   npx esbuild apps/bench/src/span-bench.ts --bundle --platform=node --format=esm \
 *     --packages=external --alias:@tracewire/core=./packages/core/src/index.ts \
 *     --outfile=apps/bench/dist/span-bench.mjs && node apps/bench/dist/span-bench.mjs
 * Options: --rounds 5 --spans 300000 --at-start (8 attributes in startSpan options, 2 later) --unsampled (AlwaysOff samplers: the cost of an unsampled request's span)
 */
import { ROOT_CONTEXT, SpanKind, type Tracer } from '@opentelemetry/api';
import {
  AlwaysOffSampler as OfficialAlwaysOff,
  AlwaysOnSampler as OfficialAlwaysOn,
  BasicTracerProvider,
} from '@opentelemetry/sdk-trace-base';
import { AlwaysOffSampler, AlwaysOnSampler, TracewireTracerProvider } from '@tracewire/core';

const args = process.argv.slice(2);
const opt = (name: string, def: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const rounds = opt('rounds', 5);
const spans = opt('spans', 300_000);

let ended = 0;
const countingProcessor = {
  onStart() {},
  onEnd() {
    ended++;
  },
  forceFlush: () => Promise.resolve(),
  shutdown: () => Promise.resolve(),
};

const sampled = process.argv.includes('--unsampled') === false;
const ours = new TracewireTracerProvider({
  sampler: sampled ? new AlwaysOnSampler() : new AlwaysOffSampler(),
  spanProcessors: [countingProcessor],
}).getTracer('bench', '1.0.0');
const official = new BasicTracerProvider({
  sampler: sampled ? new OfficialAlwaysOn() : new OfficialAlwaysOff(),
  spanProcessors: [countingProcessor],
}).getTracer('bench', '1.0.0');

const atStart = args.includes('--at-start');

/** 10 attributes through setAttribute, or (`--at-start`) 8 in the startSpan options and 2 later, as the HTTP lifecycle does. */
function run(tracer: Tracer, n: number): number {
  const t0 = performance.now();
  if (atStart) {
    for (let i = 0; i < n; i++) {
      const span = tracer.startSpan(
        'GET',
        {
          kind: SpanKind.SERVER,
          attributes: {
            'http.request.method': 'GET',
            'url.path': '/users/42',
            'url.scheme': 'http',
            'server.address': 'localhost',
            'server.port': 3000,
            'client.address': '127.0.0.1',
            'network.protocol.version': '1.1',
            'user_agent.original': 'bench/1.0',
          },
        },
        ROOT_CONTEXT,
      );
      span.setAttribute('http.route', '/users/:id');
      span.setAttribute('http.response.status_code', 200);
      span.updateName('GET /users/:id');
      span.end();
    }
  } else {
    for (let i = 0; i < n; i++) {
      const span = tracer.startSpan('GET /users/:id', { kind: SpanKind.SERVER }, ROOT_CONTEXT);
      span.setAttribute('http.request.method', 'GET');
      span.setAttribute('url.path', '/users/42');
      span.setAttribute('url.scheme', 'http');
      span.setAttribute('server.address', 'localhost');
      span.setAttribute('server.port', 3000);
      span.setAttribute('client.address', '127.0.0.1');
      span.setAttribute('network.protocol.version', '1.1');
      span.setAttribute('user_agent.original', 'bench/1.0');
      span.setAttribute('http.route', '/users/:id');
      span.setAttribute('http.response.status_code', 200);
      span.end();
    }
  }
  return n / ((performance.now() - t0) / 1000);
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
};

// Warm-up: let both reach optimised code.
run(ours, 50_000);
run(official, 50_000);

const results = { tracewire: [] as number[], official: [] as number[] };
for (let r = 0; r < rounds; r++) {
  // Alternate which goes first so neither always runs on a hotter or colder machine.
  const order = r % 2 === 0 ? (['tracewire', 'official'] as const) : (['official', 'tracewire'] as const);
  for (const which of order) results[which].push(run(which === 'tracewire' ? ours : official, spans));
}
const fmt = (n: number) => `${Math.round(n / 1000)}K spans/s`;
console.log(
  `node ${process.version}, ${sampled ? 'sampled' : 'UNSAMPLED'}${atStart ? ', attributes at start' : ''}, ${rounds} rounds x ${spans} spans (10 attributes each), medians:`,
);
console.log(
  `  tracewire: ${fmt(median(results.tracewire))}   rounds: ${results.tracewire.map(fmt).join(', ')}`,
);
console.log(
  `  official:  ${fmt(median(results.official))}   rounds: ${results.official.map(fmt).join(', ')}`,
);
console.log(
  `  ratio: ${(median(results.tracewire) / median(results.official)).toFixed(1)}x  (ended: ${ended})`,
);

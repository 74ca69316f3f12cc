// One measurement of the exporter benchmark, in a fresh process (own JIT, own peak RSS):
//   node worker.mjs <phase> <impl> <spans> [sinkUrl]
// phase: create | encode | e2e | e2e-default      impl: tracewire | official
// Prints one JSON line: { phase, impl, spans, seconds, rate, dropped, received, maxRssMiB, note }.
import { SpanKind } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import * as officialBase from '@opentelemetry/sdk-trace-base';
import { PerformanceObserver } from 'node:perf_hooks';
// TRACEWIRE_CORE may point at another build of @tracewire/core (an ESM file) for development runs.
const core = await import(process.env.TRACEWIRE_CORE ?? '@tracewire/core');

const [phase, impl, spansArg, sinkUrl] = process.argv.slice(2);
const N = Number(spansArg);
const ours = impl === 'tracewire';
let note = '';
// Time spent in garbage collection (all kinds), from the process start: reported per measurement.
let gcMs = 0;
let gcFrom = 0;
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) gcMs += e.duration;
}).observe({ entryTypes: ['gc'] });
const gcSince = () => gcMs - gcFrom;

/** Ten attributes shaped like an HTTP server span's (semantic conventions, stable HTTP). */
function attributes(i) {
  return {
    'http.request.method': 'GET',
    'url.path': `/users/${i}`,
    'url.scheme': 'http',
    'http.route': '/users/:id',
    'http.response.status_code': 200,
    'server.address': 'localhost',
    'server.port': 3000,
    'client.address': '127.0.0.1',
    'network.protocol.version': '1.1',
    'user_agent.original': 'autocannon/8.0.0',
  };
}

function makeProvider(processor, useOurs) {
  if (useOurs) {
    if (typeof core.TracewireTracerProvider !== 'function') {
      throw new Error('TracewireTracerProvider is not exported by @tracewire/core (dist)');
    }
    return new core.TracewireTracerProvider({ spanProcessors: [processor] });
  }
  return new officialBase.BasicTracerProvider({ spanProcessors: [processor] });
}

const canUseOurProvider = typeof core.TracewireTracerProvider === 'function';

function createSpans(tracer, from, to) {
  for (let i = from; i < to; i++) {
    const span = tracer.startSpan('GET /users/:id', { kind: SpanKind.SERVER, attributes: attributes(i) });
    span.end();
  }
}

const noopProcessor = {
  onStart() {},
  onEnd() {},
  forceFlush: async () => {},
  shutdown: async () => {},
};

async function phaseCreate() {
  const provider = makeProvider(noopProcessor, ours);
  const tracer = provider.getTracer('bench', '1.0.0');
  createSpans(tracer, 0, Math.min(20_000, N)); // warm-up
  gcFrom = gcMs;
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  createSpans(tracer, 0, N);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return { seconds, rate: N / seconds, cpuRate: N / cpuSeconds(c0) };
}

async function phaseEncode() {
  // The same input for both encoders: 20,480 ReadableSpans from the official SDK, encoded in
  // batches of 512 until N spans were encoded. Both return a fresh buffer per call.
  const pool = [];
  const collect = { ...noopProcessor, onEnd: (s) => pool.push(s) };
  const provider = new officialBase.BasicTracerProvider({ spanProcessors: [collect] });
  createSpans(provider.getTracer('bench', '1.0.0'), 0, 20_480);
  const batches = [];
  for (let i = 0; i < pool.length; i += 512) batches.push(pool.slice(i, i + 512));
  const encode = ours
    ? (b) => core.encodeTraceRequest(b)
    : (b) => ProtobufTraceSerializer.serializeRequest(b);
  let bytes = 0;
  for (const b of batches) bytes += encode(b).length; // warm-up, and size of one pass
  gcFrom = gcMs;
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  let done = 0;
  while (done < N) {
    for (const b of batches) {
      encode(b);
      done += b.length;
      if (done >= N) break;
    }
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  note = `${(bytes / pool.length).toFixed(0)} bytes/span`;
  return { seconds, rate: done / seconds, cpuRate: done / cpuSeconds(c0) };
}

/** CPU seconds (user + system) this process used since `c0`: robust to other load on the machine. */
function cpuSeconds(c0) {
  const d = process.cpuUsage(c0);
  return (d.user + d.system) / 1e6;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function sinkCount() {
  const res = await fetch(`${sinkUrl}/count`);
  return (await res.json()).spans;
}

async function phaseE2e(sizedQueue) {
  await fetch(`${sinkUrl}/reset`, { method: 'POST' });
  const url = `${sinkUrl}/v1/traces`;
  const queue = sizedQueue ? { maxQueueSize: N, maxExportBatchSize: 512 } : {};
  let processor;
  if (ours) {
    processor = new core.BatchSpanProcessor(new core.OtlpHttpExporter({ url }), queue);
  } else {
    processor = new officialBase.BatchSpanProcessor(new OTLPTraceExporter({ url }), queue);
  }
  const useOurProvider = ours && canUseOurProvider;
  if (ours && !useOurProvider)
    note = 'spans created by the official SDK (TracewireTracerProvider not built yet)';
  const provider = makeProvider(processor, useOurProvider);
  const tracer = provider.getTracer('bench', '1.0.0');
  gcFrom = gcMs;
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  // Spans are created as a busy server creates them: between turns of the event loop.
  for (let i = 0; i < N; i += 1000) {
    createSpans(tracer, i, Math.min(N, i + 1000));
    await new Promise((r) => setImmediate(r));
  }
  let flushError = '';
  try {
    await processor.forceFlush();
  } catch (err) {
    flushError = err?.message ?? String(err);
  }
  // Wait until the sink has everything, or nothing more arrives for 1 s.
  let received = await sinkCount();
  let stableSince = Date.now();
  let lastChange = process.hrtime.bigint();
  while (received < N && Date.now() - stableSince < 1000) {
    await sleep(20);
    const c = await sinkCount();
    if (c !== received) {
      received = c;
      stableSince = Date.now();
      lastChange = process.hrtime.bigint();
    }
  }
  const seconds = Number(lastChange - t0) / 1e9;
  // CPU time of this process only (the sink runs elsewhere); the polling above costs next to nothing.
  const cpuRate = received / cpuSeconds(c0);
  const dropped = ours ? processor.stats().dropped : undefined;
  const failed = ours ? processor.stats().failed : undefined;
  if (flushError) note += `${note ? '; ' : ''}forceFlush failed: ${flushError}`;
  await provider.shutdown?.().catch(() => {});
  return { seconds, rate: received / seconds, cpuRate, received, dropped: dropped ?? N - received, failed };
}

let result;
if (phase === 'create') {
  if (ours && !canUseOurProvider) result = { seconds: NaN, rate: NaN, cpuRate: NaN };
  else result = await phaseCreate();
  if (ours && !canUseOurProvider) note = 'TracewireTracerProvider not built yet';
} else if (phase === 'encode') result = await phaseEncode();
else if (phase === 'e2e') result = await phaseE2e(true);
else if (phase === 'e2e-default') result = await phaseE2e(false);
else throw new Error(`unknown phase ${phase}`);

const maxRssMiB = process.resourceUsage().maxRSS / 1024;
// Let the observer deliver the last GC entries (they are queued, not synchronous).
await new Promise((r) => setTimeout(r, 10));
const gc = gcSince();
process.stdout.write(`${JSON.stringify({ phase, impl, spans: N, ...result, gcMs: gc, maxRssMiB, note })}\n`);
process.exit(0);

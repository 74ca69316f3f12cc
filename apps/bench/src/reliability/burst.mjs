// Burst: `SPANS` spans (default 100,000) created within one second (in `TICKS` slices spread over
// the second) through the default batch processor (queue 2048, batch 512) and tracewire's OTLP
// exporter to `OTLP_URL`. Then shutdown (flush). Prints one JSON line with the processor's and the
// exporter's counters, the time taken and the RSS samples, so the caller can check
// exported + dropped (+ failed) = created exactly and that memory stayed bounded.
//   OTLP_URL=http://127.0.0.1:4318/v1/traces node burst.mjs
import { readFileSync } from 'node:fs';
import { SpanKind } from '@opentelemetry/api';
import { BatchSpanProcessor, OtlpHttpExporter, TracewireTracerProvider } from '@tracewire/core';

const total = Number(process.env.SPANS ?? 100_000);
const ticks = Number(process.env.TICKS ?? 100);
const rss = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0) / 1024;

const exporter = new OtlpHttpExporter({ url: process.env.OTLP_URL });
// Default settings (OTEL_BSP_* unset): queue 2048, batch 512, delay 5000, 2 exports in flight.
const processor = new BatchSpanProcessor(exporter);
const provider = new TracewireTracerProvider({ spanProcessors: [processor] });
const tracer = provider.getTracer('burst');

const samples = [{ t: 0, rss: rss() }];
const rssBefore = samples[0].rss;
const t0 = performance.now();
let created = 0;
const perTick = Math.ceil(total / ticks);
for (let tick = 0; tick < ticks && created < total; tick++) {
  // Spread over one second: tick k starts at k × (1000 / ticks) ms.
  const due = t0 + (tick * 1000) / ticks;
  const wait = due - performance.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  const n = Math.min(perTick, total - created);
  for (let i = 0; i < n; i++) {
    const span = tracer.startSpan('GET /users/:id', {
      kind: SpanKind.SERVER,
      attributes: {
        'http.request.method': 'GET',
        'url.path': `/users/${created}`,
        'http.route': '/users/:id',
      },
    });
    span.setAttribute('http.response.status_code', 200);
    span.end();
    created++;
  }
  if (tick % 10 === 0) samples.push({ t: performance.now() - t0, rss: rss() });
}
const createMs = performance.now() - t0;
const atBurstEnd = processor.stats();
samples.push({ t: performance.now() - t0, rss: rss() });
const f0 = performance.now();
await provider.shutdown();
const flushMs = performance.now() - f0;
samples.push({ t: performance.now() - t0, rss: rss() });
process.stdout.write(
  `${JSON.stringify({
    created,
    createMs,
    flushMs,
    atBurstEnd,
    stats: processor.stats(),
    settings: processor.settings,
    exporter: exporter.stats(),
    rssBefore,
    rssMax: Math.max(...samples.map((s) => s.rss)),
    samples,
  })}\n`,
);

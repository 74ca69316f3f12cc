// Measures the memory one queued span holds (heap bytes per ended server span with the attributes an
// HTTP server span carries), the figure the RSS bound is derived from:
//   bound = RSS with the collector up + (maxQueueSize + maxConcurrentExports × maxExportBatchSize) × bytes/span + slack
// Run with --expose-gc: `node --expose-gc span-bytes.mjs` prints {"bytesPerSpan": n}.
import { SpanKind } from '@opentelemetry/api';
import { TracewireTracerProvider } from '@tracewire/core';

const held = [];
const provider = new TracewireTracerProvider({
  spanProcessors: [
    { onStart() {}, onEnd: (s) => held.push(s), forceFlush: async () => {}, shutdown: async () => {} },
  ],
});
const tracer = provider.getTracer('span-bytes');
const make = (i) => {
  const span = tracer.startSpan('GET', {
    kind: SpanKind.SERVER,
    attributes: {
      'http.request.method': 'GET',
      'url.path': `/users/${i}`,
      'url.scheme': 'http',
      'server.address': '127.0.0.1',
      'server.port': 3000,
      'client.address': '127.0.0.1',
      'network.peer.address': '127.0.0.1',
      'network.peer.port': 50000 + (i % 10000),
      'network.protocol.version': '1.1',
      'user_agent.original': 'wrk/4.2.0 (linux)',
    },
  });
  span.setAttribute('http.route', '/users/:id');
  span.setAttribute('http.response.status_code', 200);
  span.updateName('GET /users/:id');
  span.end();
};
for (let i = 0; i < 5000; i++) make(i); // warm up (JIT, hidden classes)
held.length = 0;
const N = 20_000;
globalThis.gc?.();
globalThis.gc?.();
const before = process.memoryUsage().heapUsed;
for (let i = 0; i < N; i++) make(i);
globalThis.gc?.();
globalThis.gc?.();
const after = process.memoryUsage().heapUsed;
process.stdout.write(
  `${JSON.stringify({ bytesPerSpan: Math.round((after - before) / N), spans: held.length, gc: typeof globalThis.gc === 'function' })}\n`,
);

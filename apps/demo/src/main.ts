/**
 * `npm start`: the local viewer, the four demo services exporting to it, and a traffic generator.
 * Prints one URL to open. Ctrl-C stops everything (each service flushes its spans first).
 */
import { startViewer } from '@tracewire/viewer';
import { startDemo } from './launch.js';
import { generateTraffic } from './traffic.js';

const otlpPort = Number(process.env.TRACEWIRE_VIEWER_OTLP_PORT ?? 4318);
const uiPort = Number(process.env.TRACEWIRE_VIEWER_UI_PORT ?? 16686);

// With OTEL_EXPORTER_OTLP_ENDPOINT set, the services export there (a Collector, Jaeger, Tempo…) and
// no local viewer is started.
const external = process.env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim() || undefined;
const viewer = external ? undefined : await startViewer({ otlpPort, uiPort, host: '127.0.0.1' });
const otlpEndpoint = external ?? viewer!.otlpUrl;
const demo = await startDemo({ otlpEndpoint });
const traffic = new AbortController();
let orders = 0;
void generateTraffic(demo.gatewayUrl, {
  signal: traffic.signal,
  onOrder: () => {
    orders++;
  },
});

console.log(`
  tracewire demo is running: a shop of four services (Express, NestJS, Fastify, Koa)
  tracing every order end to end, with a traffic generator placing orders.

  ${viewer ? `Open  ${viewer.uiUrl}` : `Exporting to ${otlpEndpoint} (OTEL_EXPORTER_OTLP_ENDPOINT)`}

  gateway (Express)  ${demo.gatewayUrl}    try: curl -X POST ${demo.gatewayUrl}/orders -H 'content-type: application/json' -d '{"sku":"book","quantity":1,"card":"declined"}'
  OTLP endpoint      ${otlpEndpoint}
  Press Ctrl-C to stop.
`);

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  traffic.abort();
  console.log(`\nstopping (${orders} orders placed)…`);
  await demo.stop();
  await viewer?.close();
  process.exit(0);
}
process.on('SIGINT', stop);
process.on('SIGTERM', stop);

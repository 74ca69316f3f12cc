'use strict';
// The application under fault injection: an Express app traced by tracewire exactly as a user sets it
// up (`start()` + `app.use(tracewire())`, 100% sampling), with NO signal handler of its own, so on
// SIGTERM it is tracewire's signal handling that flushes and ends the process.
//
//   node app.cjs            env: OTLP_URL (traces endpoint), OTEL_* as a user would set them,
//                           APP_SHUTDOWN_TIMEOUT (ms, start({ shutdownTimeoutMillis }), optional)
//
// It prints `{"port": n}` when listening. `GET /__stats` (itself untraced) returns the batch
// processor's and the exporter's counters and the process memory, so a test can count exactly.
const express = require('express');
const { OtlpHttpExporter, start } = require('@tracewire/core');
const { tracewire } = require('@tracewire/express');

// The exporter is created here only so its counters can be read; start() batches it with the same
// BatchSpanProcessor (and the same OTEL_BSP_* handling) as its default OTLP exporter.
const exporter = new OtlpHttpExporter({ url: process.env.OTLP_URL ?? 'http://127.0.0.1:4318/v1/traces' });
const handle = start({
  serviceName: 'reliability-app',
  traceExporter: exporter,
  outgoing: false,
  ...(process.env.APP_SHUTDOWN_TIMEOUT
    ? { shutdownTimeoutMillis: Number(process.env.APP_SHUTDOWN_TIMEOUT) }
    : {}),
});
const processor = handle.tracerProvider.spanProcessors?.[0];

const app = express();
app.use(tracewire({ ignore: ['/__stats'] }));
app.get('/__stats', (_req, res) => {
  res.json({
    bsp: typeof processor?.stats === 'function' ? processor.stats() : undefined,
    settings: processor?.settings,
    exporter: exporter.stats(),
    memory: process.memoryUsage(),
  });
});
app.get('/users/:id', (req, res) => {
  res.json({ id: req.params.id, name: `user ${req.params.id}` });
});

const server = app.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`);
});

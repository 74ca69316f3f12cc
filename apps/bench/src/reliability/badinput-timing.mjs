// Worst-case time per adversarial request (adversarial.mjs), traced by tracewire vs the same Express
// app without tracing, both in this process, both accepting headers up to 2 MiB. Each case runs
// `ROUNDS` times on each server, alternated; prints one JSON line:
//   [{ name, status, bareMs: { median, max }, tracedMs: { median, max } }]
import { createServer } from 'node:http';
import { start } from '@tracewire/core';
import { tracewire } from '@tracewire/express';
import express from 'express';
import { adversarialCases, rawRequest, requestBytes } from './adversarial.mjs';

const ROUNDS = Number(process.env.ROUNDS ?? 7);
const handle = start({
  serviceName: 'bad-input-timing',
  traceExporter: 'none',
  spanLimits: { attributeValueLengthLimit: 1024 },
  propagators: ['tracecontext', 'baggage', 'b3'],
  outgoing: false,
  shutdownOnSignals: false,
});
const makeApp = (traced) => {
  const app = express();
  if (traced)
    app.use(
      tracewire({
        captureHeaders: { request: ['user-agent', 'traceparent', 'tracestate', 'baggage', 'forwarded'] },
      }),
    );
  app.get('/users/:id', (req, res) => res.type('text/plain').send(`user ${req.params.id}`));
  app.use((_req, res) => res.type('text/plain').send('ok'));
  return app;
};
const listen = (app) =>
  new Promise((resolve) => {
    const s = createServer({ maxHeaderSize: 2 * 1024 * 1024 }, app);
    s.listen(0, '127.0.0.1', () => resolve(s));
  });
const bare = await listen(makeApp(false));
const traced = await listen(makeApp(true));
const stats = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return { median: s[s.length >> 1], max: s[s.length - 1] };
};
const out = [];
for (const c of adversarialCases()) {
  const b = [];
  const t = [];
  let status;
  for (let i = 0; i < ROUNDS; i++) {
    const rb = await rawRequest(bare.address().port, requestBytes(c, bare.address().port));
    const rt = await rawRequest(traced.address().port, requestBytes(c, traced.address().port));
    b.push(rb.ms);
    t.push(rt.ms);
    status = rt.status;
  }
  out.push({ name: c.name, bytes: requestBytes(c, 1).length, status, bareMs: stats(b), tracedMs: stats(t) });
}
bare.close();
traced.close();
await handle.shutdown();
process.stdout.write(`${JSON.stringify(out)}\n`);

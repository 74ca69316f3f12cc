// An Express 5 app traced with @tracewire/express: nested routers, a mounted sub-app, a parameter
// in a mount path, a failing route and an error handler. Every request becomes one SERVER span
// named after its full route template, exported over OTLP/HTTP (OTEL_EXPORTER_OTLP_ENDPOINT,
// default http://localhost:4318; `npm start` at the repository root runs a local viewer there).
//
//   node apps/examples/express/app.mjs            serve on PORT (default 3000)
//   node apps/examples/express/app.mjs --smoke    send a few requests to itself, print the span names, exit
import { trace } from '@opentelemetry/api';
import { start } from '@tracewire/core';
import { tracewire } from '@tracewire/express';
import express from 'express';

const smoke = process.argv.includes('--smoke');
const tracing = start({ serviceName: 'example-express' });

const app = express();
app.use(tracewire({ ignore: ['/healthz'] })); // first: one span per request

app.get('/healthz', (_req, res) => res.send('ok')); // ignored: no span

const users = express.Router();
users.get('/:id', async (req, res) => {
  // a span of your own, child of the request span
  await trace.getTracer('example').startActiveSpan('load user', async (span) => {
    await new Promise((r) => setTimeout(r, 10));
    span.end();
  });
  res.json({ id: req.params.id });
});

const repos = express.Router({ mergeParams: true });
repos.get('/issues/:n', (req, res) => res.json(req.params));

const api = express.Router();
api.use('/users', users); //                     GET /api/users/:id
api.use('/orgs/:org/repos/:repo', repos); //     GET /api/orgs/:org/repos/:repo/issues/:n
app.use('/api', api);

const admin = express(); // a sub-app
admin.get('/stats', (_req, res) => res.json({ uptime: process.uptime() }));
app.use('/admin', admin); //                     GET /admin/stats

app.get('/orders/:id', () => {
  throw new Error('payment service unavailable'); // 503 below; recorded as an exception event
});
app.use((err, _req, res, _next) => res.status(503).json({ error: err.message }));

const server = app.listen(Number(process.env.PORT ?? (smoke ? 0 : 3000)), '127.0.0.1', async () => {
  const { port } = server.address();
  console.log(`example-express listening on http://127.0.0.1:${port}`);
  if (!smoke) return;
  for (const path of [
    '/api/users/42',
    '/api/orgs/acme/repos/web/issues/7',
    '/admin/stats',
    '/orders/9',
    '/nope',
    '/healthz',
  ]) {
    const res = await fetch(`http://127.0.0.1:${port}${path}`);
    await res.arrayBuffer();
    console.log(`${res.status} GET ${path}`);
  }
  server.close();
  await tracing.shutdown(); // flushes the spans
});

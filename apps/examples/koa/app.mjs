// A Koa 3 app traced with @tracewire/koa: router prefixes, nested routers with parameters, a
// failing route and an error middleware. Every request becomes one SERVER span named after its
// full route template, exported over OTLP/HTTP (OTEL_EXPORTER_OTLP_ENDPOINT, default
// http://localhost:4318; `npm start` at the repository root runs a local viewer there).
//
//   node apps/examples/koa/app.mjs            serve on PORT (default 3001)
//   node apps/examples/koa/app.mjs --smoke    send a few requests to itself, print the statuses, exit
import Router from '@koa/router';
import { trace } from '@opentelemetry/api';
import { start } from '@tracewire/core';
import { tracewire } from '@tracewire/koa';
import Koa from 'koa';

const smoke = process.argv.includes('--smoke');
const tracing = start({ serviceName: 'example-koa' });

const app = new Koa();
app.use(tracewire({ ignore: ['/healthz'] })); // first: one span per request

// Error middleware: answers 503 and reports the error the Koa way, so it lands on the span.
app.use(async (ctx, next) => {
  try {
    await next();
  } catch (err) {
    ctx.status = err.status ?? 503;
    ctx.body = { error: err.message };
    ctx.app.emit('error', err, ctx);
  }
});
app.on('error', () => {}); // (the error is already answered; keep the example's output quiet)

const api = new Router({ prefix: '/api' });
api.get('/users/:id', async (ctx) => {
  await trace.getTracer('example').startActiveSpan('load user', async (span) => {
    await new Promise((r) => setTimeout(r, 10));
    span.end();
  });
  ctx.body = { id: ctx.params.id };
}); //                                            GET /api/users/:id

const repos = new Router();
repos.get('/issues/:n', (ctx) => {
  ctx.body = ctx.params;
});
api.use('/orgs/:org/repos/:repo', repos.routes()); // GET /api/orgs/:org/repos/:repo/issues/:n

const root = new Router();
root.get('/healthz', (ctx) => {
  ctx.body = 'ok';
});
root.get('/orders/:id', () => {
  throw new Error('payment service unavailable');
});

app.use(api.routes()).use(api.allowedMethods());
app.use(root.routes()).use(root.allowedMethods());

const server = app.listen(Number(process.env.PORT ?? (smoke ? 0 : 3001)), '127.0.0.1', async () => {
  const { port } = server.address();
  console.log(`example-koa listening on http://127.0.0.1:${port}`);
  if (!smoke) return;
  for (const path of [
    '/api/users/42',
    '/api/orgs/acme/repos/web/issues/7',
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

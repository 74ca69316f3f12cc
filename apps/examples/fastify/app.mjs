// A Fastify 5 app traced with @tracewire/fastify: routes under register prefixes, an async hook, a
// route opted out with `config: { tracewire: false }`, a failing route and the default 404. Every
// request becomes one SERVER span named after its full route template, exported over OTLP/HTTP
// (OTEL_EXPORTER_OTLP_ENDPOINT, default http://localhost:4318; `npm start` at the repository root
// runs a local viewer there).
//
//   node apps/examples/fastify/app.mjs            serve on PORT (default 3000)
//   node apps/examples/fastify/app.mjs --smoke    send a few requests to itself, print what it did, exit
import { trace } from '@opentelemetry/api';
import { start } from '@tracewire/core';
import { tracewire } from '@tracewire/fastify';
import Fastify from 'fastify';

const smoke = process.argv.includes('--smoke');
const tracing = start({ serviceName: 'example-fastify' });

const app = Fastify();
await app.register(tracewire, { ignore: ['/healthz'] }); // first: its hooks run before everything else

app.get('/healthz', async () => 'ok'); // ignored: no span
app.get('/metrics', { config: { tracewire: false } }, async () => 'up 1'); // opted out per route

await app.register(
  async function api(scope) {
    scope.addHook('preHandler', async (request) => {
      // hooks run inside the request span: this span is its child
      await trace.getTracer('example').startActiveSpan('authorize', async (span) => {
        span.setAttribute('app.client', request.headers['user-agent'] ?? 'unknown');
        span.end();
      });
    });

    scope.get('/users/:id', async (request) => {
      request.tracewire.span.setAttribute('app.user_id', request.params.id); // the request's span
      await trace.getTracer('example').startActiveSpan('load user', async (span) => {
        await new Promise((r) => setTimeout(r, 10));
        span.end();
      });
      return { id: request.params.id };
    }); //                                            GET /api/v1/users/:id

    scope.post('/orders', async () => {
      throw new Error('payment service unavailable'); // 500, recorded as an exception event
    }); //                                            POST /api/v1/orders
  },
  { prefix: '/api/v1' },
);

const address = await app.listen({ port: Number(process.env.PORT ?? (smoke ? 0 : 3000)), host: '127.0.0.1' });
console.log(`example-fastify listening on ${address}`);
if (smoke) {
  for (const [method, path] of [
    ['GET', '/api/v1/users/42'],
    ['POST', '/api/v1/orders'],
    ['GET', '/nope'],
    ['GET', '/healthz'],
    ['GET', '/metrics'],
  ]) {
    const res = await fetch(`${address}${path}`, { method });
    await res.arrayBuffer();
    console.log(`${res.status} ${method} ${path}`);
  }
  await app.close();
  await tracing.shutdown(); // flushes the spans
}

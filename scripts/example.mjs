#!/usr/bin/env node
/**
 * The smallest real tracewire example (`npm run example` runs it after building).
 *
 * 1. `start()` sets up tracing: here spans are printed to the console instead of being sent to a
 *    collector.
 * 2. A plain `node:http` server is traced with `createHttpServerTracing`, the engine every
 *    framework adapter (Express, Koa, Fastify, NestJS) uses under the hood.
 * 3. The script sends itself three requests (a found user, a 404, a 500), prints the spans, shuts
 *    tracing down (which flushes the last spans) and exits.
 */
import { createServer } from 'node:http';
import { context } from '@opentelemetry/api';
import { createHttpServerTracing, start } from '../packages/core/dist/index.js';

const tracewire = start({ traceExporter: 'console', serviceName: 'tracewire-example' });
const tracing = createHttpServerTracing(undefined, { name: 'tracewire-example', version: '0.0.0' });

// A tiny router: each route has the template that names the span (`GET /users/:id`), never the raw path.
const routes = [
  {
    template: '/users/:id',
    match: /^\/users\/([^/]+)$/,
    handle: (res, [, id]) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ id, name: 'Ada' }));
    },
  },
  {
    template: '/boom',
    match: /^\/boom$/,
    handle: () => {
      throw new TypeError('something broke');
    },
  },
];

const server = createServer((req, res) => {
  // What an adapter does: begin the request, then run the handler inside the request's context so
  // any span created in user code becomes a child of the server span.
  const trace = tracing.begin(req, res);
  context.with(trace.context, () => {
    try {
      const path = (req.url ?? '/').split('?')[0];
      for (const route of routes) {
        const params = route.match.exec(path);
        if (params) {
          trace.setRoute(route.template);
          route.handle(res, params);
          return;
        }
      }
      res.statusCode = 404;
      res.end('not found');
    } catch (err) {
      trace.recordError(err); // -> an exception event, and error.type = TypeError on the 500
      res.statusCode = 500;
      res.end('internal error');
    }
  });
});

await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const base = `http://127.0.0.1:${server.address().port}`;
console.log(`tracewire example server on ${base}\n`);

for (const path of ['/users/42', '/does-not-exist', '/boom']) {
  const response = await fetch(base + path);
  await response.text();
  console.log(`GET ${path} -> ${response.status}`);
}

// Spans end when the response closes; give the last one a moment, then stop and flush everything.
await new Promise((resolve) => setTimeout(resolve, 50));
server.closeAllConnections();
await new Promise((resolve) => server.close(resolve));
await tracewire.shutdown();
console.log('\ndone: the spans above are what a collector would receive.');

import Router from '@koa/router';
import type { DecodedSpan } from '@tracewire/test-utils';
import koa2 from 'koa2';
import koa3 from 'koa3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tracewire } from '../src/index.js';
import { officialSdk, type Served, send, serve, spanFor, type Tracing } from './helpers.js';

type KoaClass = typeof koa3;

interface Shape {
  name: string;
  method?: string;
  path: string;
  route: string | undefined;
  status?: number;
}

const SHAPES: Shape[] = [
  { name: 'plain route', path: '/users/42', route: '/users/:id' },
  { name: 'router prefix', path: '/api/users/7', route: '/api/users/:id' },
  { name: 'nested routers', path: '/api/v1/items/9', route: '/api/v1/items/:itemId' },
  {
    name: 'params in prefixes',
    path: '/orgs/acme/repos/web/issues/3',
    route: '/orgs/:org/repos/:repo/issues/:n',
  },
  { name: 'several methods on one path, GET', path: '/books/12', route: '/books/:bookId' },
  { name: 'several methods on one path, PUT', method: 'PUT', path: '/books/12', route: '/books/:bookId' },
  { name: 'array path, second alternative', path: '/b/5', route: '/b/:x' },
  { name: 'regular-expression route', path: '/files/x/y.txt', route: '^\\/files\\/(.+)$' },
  { name: 'router mounted twice, second mount', path: '/v2/status', route: '/v2/status' },
  { name: 'splat', path: '/assets/css/site.css', route: '/assets/*splat' },
  { name: 'optional segment, absent', path: '/docs', route: '/docs{/:page}' },
  { name: 'optional segment, present', path: '/docs/intro', route: '/docs{/:page}' },
  { name: '"/" route under a prefix', path: '/api', route: '/api' },
  {
    name: 'router middleware before the route does not rename it',
    path: '/guarded/1',
    route: '/guarded/:id',
  },
  { name: 'no route matched', path: '/nope/123', route: undefined, status: 404 },
];

function buildApp(Koa: KoaClass) {
  const app = new Koa();
  app.use(tracewire());
  const ok = (ctx: { body: unknown }) => {
    ctx.body = 'ok';
  };

  const root = new Router();
  root.get('/users/:id', ok);
  root.get('/books/:bookId', ok);
  root.put('/books/:bookId', ok);
  root.get(['/a/:x', '/b/:x'], ok);
  root.get(/^\/files\/(.+)$/, ok);
  root.get('/assets/*splat', ok);
  root.get('/docs{/:page}', ok);
  const guarded = new Router({ prefix: '/guarded' });
  guarded.use(async (_ctx, next) => {
    await next();
  });
  guarded.get('/:id', ok);
  root.use(guarded.routes());

  const api = new Router({ prefix: '/api' });
  api.get('/users/:id', ok);
  api.get('/', ok);
  const v1 = new Router();
  v1.get('/items/:itemId', ok);
  api.use('/v1', v1.routes());

  const orgs = new Router({ prefix: '/orgs/:org' });
  const repos = new Router();
  repos.get('/issues/:n', ok);
  orgs.use('/repos/:repo', repos.routes());

  const status = new Router();
  status.get('/status', ok);
  const mounts = new Router();
  mounts.use('/v1', status.routes());
  mounts.use('/v2', status.routes());

  for (const r of [root, api, orgs, mounts]) app.use(r.routes()).use(r.allowedMethods());
  return app;
}

describe.each([
  ['Koa 2', koa2 as unknown as KoaClass],
  ['Koa 3', koa3],
])('%s + @koa/router: http.route through every routing shape', (_label, Koa) => {
  let tracing: Tracing;
  let server: Served;
  let spans: DecodedSpan[];

  beforeAll(async () => {
    tracing = await officialSdk();
    server = await serve(buildApp(Koa).callback());
    for (const s of SHAPES) {
      const reply = await send(server.url + s.path, { method: s.method ?? 'GET' });
      expect(reply.status, `${s.name}: ${s.path}`).toBe(s.status ?? 200);
    }
    spans = await tracing.waitForServerSpans(SHAPES.length);
  });
  afterAll(async () => {
    await server?.close();
    await tracing?.shutdown();
  });

  for (const s of SHAPES) {
    it(`${s.name}: ${s.method ?? 'GET'} ${s.path} → ${s.route ?? '(no route)'}`, () => {
      const method = s.method ?? 'GET';
      const span = spanFor(spans, s.path, method);
      if (s.route === undefined) {
        expect(span.name).toBe(method);
        expect(span.attributes['http.route']).toBeUndefined();
      } else {
        expect(span.attributes['http.route']).toBe(s.route);
        expect(span.name).toBe(`${method} ${s.route}`);
      }
      expect(span.attributes['http.response.status_code']).toBe(s.status ?? 200);
    });
  }
});

/**
 * Koa 2 and 3 drivers with @koa/router: `app.use(tracewire(options))` first, one router per mount
 * level (the outermost carries its prefix, inner ones are mounted with `router.use(prefix, ...)`).
 * Koa's own error handling answers `err.status` (that is how Koa users throw 4xx).
 */
import Router from '@koa/router';
import { tracewire } from '@tracewire/koa';
import koa2 from 'koa2';
import koa3 from 'koa3';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AdapterDriver, AppSpec, RunningApp } from '../driver.js';
import { type BehaviorResult, byMounts, type RouteDef, runBehavior } from '../route-table.js';

type KoaClass = typeof koa3;
type Ctx = Parameters<Parameters<Router['get']>[1]>[0];

function reply(ctx: Ctx, r: BehaviorResult): void {
  if (r.headers) for (const [k, v] of Object.entries(r.headers)) ctx.set(k, v);
  ctx.status = r.status;
  ctx.type = r.contentType;
  ctx.body = r.body;
}

function build(Koa: KoaClass, spec: AppSpec) {
  const app = new Koa();
  app.silent = true; // Koa logs unhandled errors to stderr by default; the suite expects some
  app.use(tracewire(spec.options));
  for (const routes of byMounts(spec.routes).values()) {
    const mounts = (routes[0] as RouteDef).mounts;
    let router = new Router();
    for (const r of routes) {
      const method = r.method.toLowerCase() as 'get' | 'post' | 'put' | 'delete';
      router[method](r.path, async function conformanceHandler(ctx: Ctx) {
        const out = runBehavior(r.behavior);
        reply(ctx, out instanceof Promise ? await out : out);
      });
    }
    for (let i = mounts.length - 1; i >= 0; i--) {
      const parent = new Router();
      parent.use(mounts[i] as string, router.routes(), router.allowedMethods());
      router = parent;
    }
    app.use(router.routes()).use(router.allowedMethods());
  }
  return app;
}

function listen(app: { listen(port: number, host: string, cb: () => void): Server }): Promise<RunningApp> {
  return new Promise((resolve) => {
    const server = app.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        url: `http://127.0.0.1:${port}`,
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}

export const koaDrivers: AdapterDriver[] = [
  {
    name: 'koa2',
    scope: '@tracewire/koa',
    start: (spec) => listen(build(koa2 as unknown as KoaClass, spec)),
  },
  { name: 'koa3', scope: '@tracewire/koa', start: (spec) => listen(build(koa3, spec)) },
];

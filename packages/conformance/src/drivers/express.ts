/**
 * Express 4 and 5 drivers: `app.use(tracewire(options))` first, one `express.Router()` per mount
 * level, an error handler answering `err.status`. Express 4 registers `recordErrors()` before it,
 * as the @tracewire/express README tells Express 4 users to.
 */
import { recordErrors, tracewire } from '@tracewire/express';
import type { ErrorRequestHandler, Express, NextFunction, Request, Response, Router } from 'express';
import express4 from 'express4';
import express5 from 'express5';
import type { AddressInfo } from 'node:net';
import type { AdapterDriver, AppSpec, RunningApp } from '../driver.js';
import { type BehaviorResult, byMounts, type RouteDef, runBehavior } from '../route-table.js';

type ExpressFactory = typeof express5;

function reply(res: Response, r: BehaviorResult): void {
  if (r.headers) for (const [k, v] of Object.entries(r.headers)) res.setHeader(k, v);
  res.status(r.status).type(r.contentType).send(r.body);
}

function handlerFor(route: RouteDef) {
  return function conformanceHandler(_req: Request, res: Response, next: NextFunction) {
    const out = runBehavior(route.behavior); // a synchronous throw propagates to Express
    if (out instanceof Promise) out.then((r) => reply(res, r), next);
    else reply(res, out);
  };
}

function build(express: ExpressFactory, major: 4 | 5, spec: AppSpec): Express {
  const app = express();
  app.use(tracewire(spec.options));
  for (const routes of byMounts(spec.routes).values()) {
    const mounts = (routes[0] as RouteDef).mounts;
    // innermost router holds the routes; each level is mounted on the one above
    const leaf: Router | Express = mounts.length === 0 ? app : express.Router({ mergeParams: true });
    for (const r of routes) {
      const method = r.method.toLowerCase() as 'get' | 'post' | 'put' | 'delete';
      leaf[method](r.path, handlerFor(r));
    }
    let child = leaf;
    for (let i = mounts.length - 1; i >= 0; i--) {
      const parent: Router | Express = i === 0 ? app : express.Router({ mergeParams: true });
      parent.use(mounts[i] as string, child as Router);
      child = parent;
    }
  }
  if (major === 4) app.use(recordErrors());
  const onError: ErrorRequestHandler = (err, _req, res, next) => {
    if (typeof err?.status === 'number') res.status(err.status).send(String(err.message));
    else next(err);
  };
  app.use(onError);
  return app;
}

function listen(app: Express): Promise<RunningApp> {
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

export const expressDrivers: AdapterDriver[] = [
  {
    name: 'express4',
    scope: '@tracewire/express',
    start: (spec) => listen(build(express4 as unknown as ExpressFactory, 4, spec)),
  },
  { name: 'express5', scope: '@tracewire/express', start: (spec) => listen(build(express5, 5, spec)) },
];

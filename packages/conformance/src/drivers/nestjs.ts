/**
 * NestJS drivers (the workspace's Nest, on the Express and on the Fastify platform):
 * `TracewireModule.forRoot(options)` in the root module, one controller per mount chain (the
 * controller path is the chain), an exception filter answering `err.status`. Decorators are applied
 * as calls because this package compiles without `experimentalDecorators`; Nest's own version
 * matrix (10, 11, 12) runs in packages/nestjs.
 */
import 'reflect-metadata';
import { Catch, Controller, Delete, Get, Module, Post, Put, Res } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { TracewireModule } from '@tracewire/nestjs';
import type { AddressInfo } from 'node:net';
import type { AdapterDriver, AppSpec, RunningApp } from '../driver.js';
import {
  type BehaviorResult,
  byMounts,
  ConformanceError,
  type RouteDef,
  runBehavior,
} from '../route-table.js';

// biome-ignore lint/suspicious/noExplicitAny: Express `res` and Fastify `reply` through one code path
type Any = any;

const METHODS = { GET: Get, POST: Post, PUT: Put, DELETE: Delete } as const;

/** Express `res` and Fastify `reply` both have `header()`; the status setter differs. */
function reply(res: Any, out: BehaviorResult): void {
  if (out.headers) for (const [k, v] of Object.entries(out.headers)) res.header(k, v);
  (typeof res.code === 'function' ? res.code(out.status) : res.status(out.status))
    .type(out.contentType)
    .send(out.body);
}

function controllerFor(mounts: readonly string[], routes: readonly RouteDef[]): new () => object {
  const Ctl = class ConformanceController {};
  routes.forEach((route, i) => {
    const key = `route${i}`;
    const handler = function conformanceHandler(res: Any) {
      const out = runBehavior(route.behavior); // a synchronous throw goes to Nest's exception layer
      if (out instanceof Promise) return out.then((o) => reply(res, o));
      reply(res, out);
      return undefined;
    };
    Object.defineProperty(Ctl.prototype, key, { value: handler, writable: true, configurable: true });
    const descriptor = Object.getOwnPropertyDescriptor(Ctl.prototype, key)!;
    Res()(Ctl.prototype, key, 0);
    METHODS[route.method](route.path)(Ctl.prototype, key, descriptor);
  });
  Controller(mounts.join('') || '/')(Ctl);
  return Ctl;
}

/** The app's error handling, the Nest way: an exception filter answering the error's status. */
class ConformanceFilter {
  catch(err: ConformanceError, host: Any) {
    const res = host.switchToHttp().getResponse();
    const status = typeof err.status === 'number' ? err.status : 500;
    (typeof res.code === 'function' ? res.code(status) : res.status(status)).send(String(err.message));
  }
}
Catch(ConformanceError)(ConformanceFilter);

async function start(platform: 'express' | 'fastify', spec: AppSpec): Promise<RunningApp> {
  const controllers = [...byMounts(spec.routes).values()].map((routes) =>
    controllerFor((routes[0] as RouteDef).mounts, routes),
  );
  class ConformanceModule {}
  Module({ imports: [TracewireModule.forRoot(spec.options)], controllers })(ConformanceModule);
  const adapter = platform === 'fastify' ? new FastifyAdapter() : new ExpressAdapter();
  const app = await NestFactory.create(ConformanceModule, adapter, { logger: false, abortOnError: false });
  app.useGlobalFilters(new ConformanceFilter());
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => app.close() };
}

export const nestjsDrivers: AdapterDriver[] = [
  { name: 'nestjs-express', scope: '@tracewire/express', start: (spec) => start('express', spec) },
  { name: 'nestjs-fastify', scope: '@tracewire/fastify', start: (spec) => start('fastify', spec) },
];

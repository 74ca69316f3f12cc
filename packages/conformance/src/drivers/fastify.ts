/**
 * Fastify 4 and 5 drivers: `await app.register(tracewire, options)` first, one plugin with a
 * `prefix` per mount level, and an error handler answering `err.status`, as Fastify users write it.
 */
import { tracewire } from '@tracewire/fastify';
import fastify4 from 'fastify4';
import fastify5 from 'fastify5';
import type { AdapterDriver, AppSpec, RunningApp } from '../driver.js';
import { type BehaviorResult, byMounts, type RouteDef, runBehavior } from '../route-table.js';

// biome-ignore lint/suspicious/noExplicitAny: one driver body for two majors whose type packages differ
type Any = any;

function reply(r: Any, out: BehaviorResult): Any {
  if (out.headers) for (const [k, v] of Object.entries(out.headers)) r.header(k, v);
  return r.code(out.status).type(out.contentType).send(out.body);
}

function addRoutes(scope: Any, routes: readonly RouteDef[]): void {
  for (const route of routes) {
    scope.route({
      method: route.method,
      url: route.path,
      handler: function conformanceHandler(_req: Any, r: Any) {
        const out = runBehavior(route.behavior); // a synchronous throw goes to Fastify's error handling
        if (out instanceof Promise) return out.then((o) => reply(r, o));
        return reply(r, out);
      },
    });
  }
}

/** Registers `routes` under `mounts`, one encapsulated plugin per prefix level. */
function mount(scope: Any, mounts: readonly string[], routes: readonly RouteDef[]): void {
  if (mounts.length === 0) {
    addRoutes(scope, routes);
    return;
  }
  scope.register(
    async function conformanceMount(child: Any) {
      mount(child, mounts.slice(1), routes);
    },
    { prefix: mounts[0] },
  );
}

async function start(factory: (opts?: object) => Any, spec: AppSpec): Promise<RunningApp> {
  const app = factory();
  await app.register(tracewire, spec.options ?? {});
  app.setErrorHandler(function conformanceErrors(err: Any, _req: Any, r: Any) {
    r.code(typeof err?.status === 'number' ? err.status : 500).send(String(err?.message));
  });
  for (const routes of byMounts(spec.routes).values()) mount(app, (routes[0] as RouteDef).mounts, routes);
  await app.listen({ port: 0, host: '127.0.0.1' });
  return {
    url: `http://127.0.0.1:${app.server.address().port}`,
    close: () => app.close(),
  };
}

export const fastifyDrivers: AdapterDriver[] = [
  { name: 'fastify4', scope: '@tracewire/fastify', start: (spec) => start(fastify4 as Any, spec) },
  { name: 'fastify5', scope: '@tracewire/fastify', start: (spec) => start(fastify5 as Any, spec) },
];

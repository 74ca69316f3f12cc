'use strict';
// One benchmark server process: a hello-world app with one parameterised JSON route
// (`GET /users/:id`) in the given framework and tracing configuration.
//
//   node server.cjs <framework> <mode>
//   framework: express | koa | fastify | nest-express | nest-fastify
//   mode:      bare | tracewire | tracewire-unsampled | official, and for analysis:
//              als-only (one AsyncLocalStorage.run() per request), floor (floor.cjs: the least a
//              tracer does; express, koa and fastify only), tracewire-noexport
//   env:       OTLP_URL (traces endpoint of the sink), PORT (default 0), TRACEWIRE_BUNDLE (see
//              below), BENCH_NEST_ENHANCER (nest-* only, see there)
//
// It prints one JSON line `{"port": n}` when listening, and on SIGTERM flushes spans and exits.
// CommonJS on purpose: the official stack's auto-instrumentation patches `require`, so this is the
// setup where it works best (it is the fair comparison).

const [framework, mode] = process.argv.slice(2);
// TRACEWIRE_BUNDLE: tracewire bundled from its sources (instructions.mjs --source) instead of dist;
// the Nest servers load the bundle beside it that has the Nest module too.
const bundle = process.env.TRACEWIRE_BUNDLE
  ? framework.startsWith('nest')
    ? process.env.TRACEWIRE_BUNDLE.replace(/\.cjs$/, '-nestjs.cjs')
    : process.env.TRACEWIRE_BUNDLE
  : undefined;
const otlpUrl = process.env.OTLP_URL ?? 'http://127.0.0.1:4318/v1/traces';
let sdkShutdown = async () => {};
let floor;

if (mode === 'official') {
  const { NodeSDK } = require('@opentelemetry/sdk-node');
  const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-proto');
  const { BatchSpanProcessor } = require('@opentelemetry/sdk-trace-base');
  const { HttpInstrumentation } = require('@opentelemetry/instrumentation-http');
  const instrumentations = [new HttpInstrumentation()];
  if (framework === 'express' || framework === 'nest-express') {
    const { ExpressInstrumentation } = require('@opentelemetry/instrumentation-express');
    instrumentations.push(new ExpressInstrumentation());
  }
  if (framework === 'koa') {
    const { KoaInstrumentation } = require('@opentelemetry/instrumentation-koa');
    instrumentations.push(new KoaInstrumentation());
  }
  if (framework === 'fastify' || framework === 'nest-fastify') {
    const { FastifyOtelInstrumentation } = require('@fastify/otel');
    instrumentations.push(new FastifyOtelInstrumentation({ registerOnInitialization: true }));
  }
  if (framework.startsWith('nest')) {
    const { NestInstrumentation } = require('@opentelemetry/instrumentation-nestjs-core');
    instrumentations.push(new NestInstrumentation());
  }
  const sdk = new NodeSDK({
    serviceName: `bench-${framework}`,
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: otlpUrl }))],
    instrumentations,
  });
  sdk.start();
  sdkShutdown = () => sdk.shutdown();
} else if (mode === 'tracewire' || mode === 'tracewire-unsampled' || mode === 'tracewire-noexport') {
  const { start } = bundle ? require(bundle) : require('@tracewire/core');
  const handle = start({
    serviceName: `bench-${framework}`,
    ...(mode === 'tracewire-noexport' ? {} : { otlp: { url: otlpUrl } }),
    outgoing: false,
    shutdownOnSignals: false,
    ...(mode === 'tracewire-unsampled' ? { sampler: 'parentbased_traceidratio', samplerArg: 0 } : {}),
    // `tracewire-noexport`: spans are created and ended but not exported (splits span cost from export cost).
    ...(mode === 'tracewire-noexport' ? { traceExporter: 'none' } : {}),
  });
  sdkShutdown = () => handle.shutdown();
} else if (mode === 'floor') {
  // `floor`: the least any tracer meeting the contract does per request (floor.cjs).
  const routeOf = {
    express: (req) => req.route?.path,
    koa: (ctx) => ctx._matchedRoute,
    fastify: (request) => request.routeOptions.url,
  }[framework];
  if (routeOf === undefined) throw new Error(`mode floor has no ${framework} variant`);
  floor = require('./floor.cjs').createFloor({
    url: otlpUrl,
    serviceName: `bench-${framework}`,
    scopeName: 'floor',
    routeOf,
  });
  sdkShutdown = () => floor.shutdown();
} else if (mode !== 'bare' && mode !== 'als-only') {
  throw new Error(`unknown mode ${mode}`);
}

const traced = mode === 'tracewire' || mode === 'tracewire-unsampled' || mode === 'tracewire-noexport';
// `als-only`: no tracing at all, just one AsyncLocalStorage.run() per request, as every context
// manager does: the floor any AsyncLocalStorage-based tracer pays (instructions.mjs reports it).
const als = mode === 'als-only' ? new (require('node:async_hooks').AsyncLocalStorage)() : undefined;
const store = { request: true };
const adapter = (name) => (bundle ? require(bundle)[name] : require(`@tracewire/${name}`).tracewire);
const user = (id) => ({ id, name: `user ${id}`, email: `user${id}@example.com` });

async function listen() {
  const port = Number(process.env.PORT ?? 0);
  switch (framework) {
    case 'express': {
      const express = require('express');
      const app = express();
      if (traced) app.use(adapter('express')());
      if (als) app.use((_req, _res, next) => als.run(store, next));
      if (floor) app.use((req, res, next) => floor.begin(req, res, next, req));
      app.get('/users/:id', (req, res) => res.json(user(req.params.id)));
      return new Promise((resolve) => {
        const server = app.listen(port, '127.0.0.1', () => resolve(server));
      });
    }
    case 'koa': {
      const Koa = require('koa');
      const Router = require('@koa/router');
      const app = new Koa();
      if (traced) app.use(adapter('koa')());
      if (als) app.use((_ctx, next) => als.run(store, next));
      if (floor) app.use((ctx, next) => floor.begin(ctx.req, ctx.res, next, ctx));
      const router = new Router();
      router.get('/users/:id', (ctx) => {
        ctx.body = user(ctx.params.id);
      });
      app.use(router.routes());
      return new Promise((resolve) => {
        const server = app.listen(port, '127.0.0.1', () => resolve(server));
      });
    }
    case 'fastify': {
      const Fastify = require('fastify');
      const app = Fastify();
      if (traced) await app.register(adapter('fastify'));
      if (als) app.addHook('onRequest', (_req, _reply, done) => als.run(store, done));
      if (floor)
        app.addHook('onRequest', (request, reply, done) =>
          floor.begin(request.raw, reply.raw, done, request),
        );
      app.get('/users/:id', async (req) => user(req.params.id));
      await app.listen({ port, host: '127.0.0.1' });
      return app.server;
    }
    case 'nest-express':
    case 'nest-fastify': {
      require('reflect-metadata');
      const { Module, Controller, Get, Param } = require('@nestjs/common');
      const { NestFactory, APP_INTERCEPTOR, APP_GUARD } = require('@nestjs/core');
      class UsersController {
        get(id) {
          return user(id);
        }
      }
      const proto = UsersController.prototype;
      const desc = Reflect.decorate(
        [Get(':id'), Reflect.metadata('design:paramtypes', [String])],
        proto,
        'get',
        Object.getOwnPropertyDescriptor(proto, 'get'),
      );
      Object.defineProperty(proto, 'get', desc);
      Param('id')(UsersController.prototype, 'get', 0);
      Reflect.decorate([Controller('users')], UsersController);
      const imports = traced
        ? [(bundle ? require(bundle) : require('@tracewire/nestjs')).TracewireModule.forRoot()]
        : [];
      // BENCH_NEST_ENHANCER=interceptor|guard adds a global interceptor or guard that does nothing,
      // in any mode: what Nest itself spends per request once one exists (docs/performance.md,
      // "Fifteenth pass").
      const enhancer = process.env.BENCH_NEST_ENHANCER;
      const providers =
        enhancer === 'interceptor'
          ? [{ provide: APP_INTERCEPTOR, useFactory: () => ({ intercept: (_ctx, next) => next.handle() }) }]
          : enhancer === 'guard'
            ? [{ provide: APP_GUARD, useFactory: () => ({ canActivate: () => true }) }]
            : [];
      if (enhancer !== undefined && providers.length === 0)
        throw new Error(`BENCH_NEST_ENHANCER must be interceptor or guard, not ${enhancer}`);
      class AppModule {}
      Reflect.decorate([Module({ imports, providers, controllers: [UsersController] })], AppModule);
      let app;
      if (framework === 'nest-fastify') {
        const { FastifyAdapter } = require('@nestjs/platform-fastify');
        app = await NestFactory.create(AppModule, new FastifyAdapter(), { logger: false });
      } else {
        app = await NestFactory.create(AppModule, { logger: false });
      }
      await app.listen(port, '127.0.0.1');
      return app.getHttpServer();
    }
    default:
      throw new Error(`unknown framework ${framework}`);
  }
}

listen().then(
  (server) => {
    process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`);
    process.once('SIGTERM', async () => {
      server.close();
      try {
        await sdkShutdown();
      } finally {
        process.exit(0);
      }
    });
  },
  (err) => {
    console.error(err);
    process.exit(1);
  },
);

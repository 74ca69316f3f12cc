/**
 * One Nest application, run on the Express and the Fastify platform of the Nest major this project
 * runs (NEST_MAJOR), exporting to a real OTLP receiver. What a user sees in their backend.
 */
import type { AddressInfo } from 'node:net';
import { context, trace } from '@opentelemetry/api';
import { Observable } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Traced, TracewireInterceptor, TracewireModule, type TracewireNestOptions } from '../../src/index.js';
import {
  INTERNAL,
  newTraceparent,
  SERVER,
  STATUS_ERROR,
  STATUS_UNSET,
  settle,
  setupTracing,
  type Tracing,
  traceOf,
} from '../tracing.js';
import { type Any, loadNest, type Nest } from './load-nest.js';

const major = process.env.NEST_MAJOR ?? 'nest12';
let nest: Nest;
let tracing: Tracing;

beforeAll(async () => {
  nest = await loadNest(major);
  tracing = await setupTracing();
});
afterAll(async () => {
  await tracing?.shutdown();
});

const tracer = () => trace.getTracer('test-app');

/** The SERVER spans of a request's trace, once `count` spans of it have arrived. */
async function serverSpans(tp: { traceId: string }, count: number) {
  return (await traceOf(tracing.receiver, tp.traceId, count)).filter((x) => x.kind === SERVER);
}

/** The application under test, built from the loaded major's decorators. */
function appModule(tracewireModule: Any) {
  const {
    Controller,
    Get,
    Post,
    Param,
    Module,
    Injectable,
    Inject,
    HttpException,
    ForbiddenException,
    BadRequestException,
    ServiceUnavailableException,
    ParseIntPipe,
    UseGuards,
    UseInterceptors,
    UseFilters,
    Catch,
  } = nest.common;

  class PaymentDeclined extends Error {}

  @Injectable()
  class UsersService {
    @Traced()
    async find(id: number) {
      await new Promise((r) => setTimeout(r, 2));
      tracer().startSpan('db.query').end();
      return { id, name: 'Ada' };
    }

    @Traced('users.stream')
    stream(): Observable<number> {
      return new Observable<number>((s) => {
        tracer().startSpan('inside stream').end();
        setTimeout(() => {
          s.next(1);
          s.complete();
        }, 5);
      });
    }
  }

  class DenyGuard {
    canActivate() {
      throw new ForbiddenException('nope');
    }
  }
  class FailingInterceptor {
    intercept() {
      throw new BadRequestException('bad input from interceptor');
    }
  }
  @Catch()
  class GatewayFilter {
    catch(_err: unknown, host: Any) {
      const http = host.switchToHttp();
      const res = http.getResponse();
      // Works on both platforms: Express `res.status().json()`, Fastify `reply.code().send()`.
      if (typeof res.code === 'function') res.code(502).send({ gateway: true });
      else res.status(502).json({ gateway: true });
    }
  }

  @Controller({ path: 'users', version: '1' })
  class UsersController {
    constructor(@Inject(UsersService) private readonly users: UsersService) {}

    @Get(':id')
    async findOne(@Param('id', ParseIntPipe) id: number) {
      await new Promise((r) => setImmediate(r));
      tracer().startSpan('handler work').end();
      return this.users.find(id);
    }

    @Get(':id/stream')
    streamOne() {
      return this.users.stream();
    }

    @Get(':id/forbidden')
    @UseGuards(DenyGuard)
    forbidden() {
      return 'never';
    }

    @Get(':id/intercepted')
    @UseInterceptors(FailingInterceptor)
    intercepted() {
      return 'never';
    }

    @Post(':id/pay')
    async pay() {
      await new Promise((r) => setTimeout(r, 1));
      throw new PaymentDeclined('card declined');
    }

    @Get(':id/unavailable')
    unavailable() {
      throw new ServiceUnavailableException('maintenance');
    }

    @Get(':id/teapot')
    teapot() {
      throw new HttpException('short and stout', 418);
    }

    @Get(':id/filtered')
    @UseFilters(GatewayFilter)
    filtered() {
      throw new Error('upstream broke');
    }

    @Get(':id/explode')
    explode() {
      return 'never: the middleware throws first';
    }
  }

  @Controller('health')
  class HealthController {
    @Get()
    check() {
      tracer().startSpan('health work').end();
      return 'ok';
    }
  }

  // One handler function, inherited by two controllers: each request names its own controller.
  class PingController {
    @Get('ping')
    ping() {
      return 'pong';
    }
  }
  @Controller('left')
  class LeftController extends PingController {}
  @Controller('right')
  class RightController extends PingController {}

  class AuditMiddleware {
    use(req: { url?: string; originalUrl?: string }, _res: unknown, next: () => void) {
      // Nest middleware runs inside the server span: its spans are children.
      tracer().startSpan('audit middleware').end();
      if (String(req.originalUrl ?? req.url).endsWith('/explode')) throw new Error('middleware exploded');
      next();
    }
  }

  @Module({
    imports: [tracewireModule],
    controllers: [UsersController, HealthController, LeftController, RightController],
    providers: [UsersService],
  })
  class AppModule {
    configure(consumer: Any) {
      consumer.apply(AuditMiddleware).forRoutes(UsersController);
    }
  }
  return AppModule;
}

/** A catch-all filter as the Nest docs show it, added in main.ts with `app.useGlobalFilters()`. */
function allExceptionsFilter() {
  const { Catch } = nest.common;
  @Catch()
  class AllExceptionsFilter {
    catch(_err: unknown, host: Any) {
      const res = host.switchToHttp().getResponse();
      if (typeof res.code === 'function') res.code(599).send({ all: true });
      else res.status(599).json({ all: true });
    }
  }
  return new AllExceptionsFilter();
}

async function startApp(
  platform: 'express' | 'fastify',
  tracewireModule: Any,
  main: (app: Any) => void = () => {},
) {
  const { NestFactory } = nest.core;
  const { VersioningType } = nest.common;
  const adapter =
    platform === 'fastify' ? new nest.fastify.FastifyAdapter() : new nest.express.ExpressAdapter();
  const app = await NestFactory.create(appModule(tracewireModule), adapter, {
    logger: process.env.NEST_LOG ? undefined : false,
    abortOnError: false,
  });
  app.setGlobalPrefix('api');
  app.enableVersioning({ type: VersioningType.URI });
  main(app);
  await app.listen(0, '127.0.0.1');
  const port = (app.getHttpServer().address() as AddressInfo).port;
  return { app, url: `http://127.0.0.1:${port}`, close: () => app.close() };
}

/**
 * The app under test with `tracewireModule`, started before the suite's tests (`main(app)` runs
 * before `listen()`, as in a main.ts) and closed after them, and a request helper.
 */
function appWith(
  platform: 'express' | 'fastify',
  tracewireModule: Any = TracewireModule.forRoot(),
  main: (app: Any) => void = () => {},
) {
  const h = {
    s: undefined as Awaited<ReturnType<typeof startApp>> | undefined,
    async get(path: string, init: RequestInit = {}) {
      const tp = newTraceparent();
      const res = await fetch(`${h.s!.url}${path}`, { ...init, headers: { traceparent: tp.header } });
      return { tp, status: res.status, body: await res.text() };
    },
  };
  beforeAll(async () => {
    h.s = await startApp(platform, tracewireModule, main);
  });
  afterAll(async () => {
    await h.s?.close();
  });
  return h;
}

describe.each(['express', 'fastify'] as const)(`${major} on %s`, (platform) => {
  const { get } = appWith(platform, TracewireModule.forRoot());

  it('one SERVER span named with the full route (global prefix + URI version), with Nest attributes', async () => {
    const { tp, status } = await get('/api/v1/users/42');
    expect(status).toBe(200);
    const spans = await traceOf(tracing.receiver, tp.traceId, 5);
    const servers = spans.filter((x) => x.kind === SERVER);
    expect(servers).toHaveLength(1);
    const server = servers[0]!;
    expect(server.name).toBe('GET /api/v1/users/:id');
    expect(server.parentSpanId).toBe(tp.parentId);
    expect(server.attributes['http.route']).toBe('/api/v1/users/:id');
    expect(server.attributes['http.response.status_code']).toBe(200);
    expect(server.attributes['nestjs.controller']).toBe('UsersController');
    expect(server.attributes['nestjs.handler']).toBe('findOne');
    expect(server.status.code).toBe(STATUS_UNSET);
    expect(server.scope.name).toBe(`@tracewire/${platform}`);
  });

  it('Nest middleware, handlers and @Traced() providers run inside the server span', async () => {
    const { tp } = await get('/api/v1/users/7');
    const spans = await traceOf(tracing.receiver, tp.traceId, 5);
    const server = spans.find((x) => x.kind === SERVER)!;
    const byName = new Map(spans.map((x) => [x.name, x]));
    expect(byName.get('audit middleware')!.parentSpanId).toBe(server.spanId);
    expect(byName.get('handler work')!.parentSpanId).toBe(server.spanId);
    const traced = byName.get('UsersService.find')!;
    expect(traced.parentSpanId).toBe(server.spanId);
    expect(traced.kind).toBe(INTERNAL);
    expect(traced.scope.name).toBe('@tracewire/nestjs');
    expect(byName.get('db.query')!.parentSpanId).toBe(traced.spanId);
    // The middleware ran after the server span started: start times are ordered.
    expect(byName.get('audit middleware')!.startTimeUnixNano >= server.startTimeUnixNano).toBe(true);
  });

  it('@Traced() on an Observable-returning method spans the subscription', async () => {
    const { tp, status } = await get('/api/v1/users/7/stream');
    expect(status).toBe(200);
    const spans = await traceOf(tracing.receiver, tp.traceId, 4);
    const server = spans.find((x) => x.kind === SERVER)!;
    expect(server.name).toBe('GET /api/v1/users/:id/stream');
    // One span for the call and its subscription, not one each.
    expect(await settle(tracing.receiver, tp.traceId)).toHaveLength(4);
    const stream = spans.find((x) => x.name === 'users.stream')!;
    expect(stream.parentSpanId).toBe(server.spanId);
    expect(spans.find((x) => x.name === 'inside stream')!.parentSpanId).toBe(stream.spanId);
    expect(Number(stream.endTimeUnixNano - stream.startTimeUnixNano) / 1e6).toBeGreaterThanOrEqual(4);
  });

  it('HttpException from a guard: 403 on the span, exception recorded, status unset', async () => {
    const { tp, status } = await get('/api/v1/users/7/forbidden');
    expect(status).toBe(403);
    const [server] = await serverSpans(tp, 2);
    expect(server!.name).toBe('GET /api/v1/users/:id/forbidden');
    expect(server!.attributes['http.response.status_code']).toBe(403);
    expect(server!.status.code).toBe(STATUS_UNSET);
    expect(server!.attributes['error.type']).toBeUndefined();
    const events = server!.events.filter((e) => e.name === 'exception');
    expect(events.map((e) => [e.attributes['exception.type'], e.attributes['exception.message']])).toEqual([
      ['ForbiddenException', 'nope'],
    ]);
  });

  it('an error thrown by Nest middleware: 500, ERROR, the exception recorded', async () => {
    const { tp, status } = await get('/api/v1/users/7/explode');
    expect(status).toBe(500);
    const [server] = await serverSpans(tp, 2);
    expect(server!.attributes['http.response.status_code']).toBe(500);
    expect(server!.status.code).toBe(STATUS_ERROR);
    expect(server!.attributes['error.type']).toBe('Error');
    expect(server!.events.map((e) => e.attributes['exception.message'])).toEqual(['middleware exploded']);
  });

  it('HttpException from a pipe: 400, exception recorded, status unset', async () => {
    const { tp, status } = await get('/api/v1/users/not-a-number');
    expect(status).toBe(400);
    const [server] = await serverSpans(tp, 2);
    expect(server!.name).toBe('GET /api/v1/users/:id');
    expect(server!.attributes['http.response.status_code']).toBe(400);
    expect(server!.status.code).toBe(STATUS_UNSET);
    const ev = server!.events.find((e) => e.name === 'exception')!;
    expect(ev.attributes['exception.type']).toBe('BadRequestException');
  });

  it('HttpException from an interceptor: 400, status unset', async () => {
    const { tp, status } = await get('/api/v1/users/7/intercepted');
    expect(status).toBe(400);
    const [server] = await serverSpans(tp, 2);
    expect(server!.attributes['http.response.status_code']).toBe(400);
    expect(server!.status.code).toBe(STATUS_UNSET);
    expect(server!.events.map((e) => e.attributes['exception.message'])).toContain(
      'bad input from interceptor',
    );
  });

  it('an error thrown by a handler: 500, ERROR, error.type is the exception class', async () => {
    const { tp, status } = await get('/api/v1/users/7/pay', { method: 'POST' });
    expect(status).toBe(500);
    const [server] = await serverSpans(tp, 2);
    expect(server!.name).toBe('POST /api/v1/users/:id/pay');
    expect(server!.attributes['http.response.status_code']).toBe(500);
    expect(server!.status.code).toBe(STATUS_ERROR);
    expect(server!.attributes['error.type']).toBe('PaymentDeclined');
    expect(server!.events.filter((e) => e.name === 'exception')).toHaveLength(1);
  });

  it('a 5xx HttpException sets ERROR; a 4xx one (418) leaves the status unset', async () => {
    const a = await get('/api/v1/users/7/unavailable');
    expect(a.status).toBe(503);
    const [s503] = await serverSpans(a.tp, 2);
    expect(s503!.status.code).toBe(STATUS_ERROR);
    expect(s503!.attributes['error.type']).toBe('ServiceUnavailableException');

    const b = await get('/api/v1/users/7/teapot');
    expect(b.status).toBe(418);
    const [s418] = await serverSpans(b.tp, 2);
    expect(s418!.status.code).toBe(STATUS_UNSET);
    expect(s418!.attributes['http.response.status_code']).toBe(418);
  });

  it('a method-level filter answers: its status on the span (502: ERROR); Nest shows it the exception first', async () => {
    const { tp, status } = await get('/api/v1/users/7/filtered');
    expect(status).toBe(502);
    const [server] = await serverSpans(tp, 2);
    expect(server!.attributes['http.response.status_code']).toBe(502);
    expect(server!.status.code).toBe(STATUS_ERROR);
    // Nest tries method and controller filters before global ones: the exception never reaches the
    // observer (documented; TracewireInterceptor records it, see below).
    expect(server!.attributes['error.type']).toBe('502');
    expect(server!.events).toEqual([]);
  });

  it('an unknown path: 404 named after the method, no http.route', async () => {
    const { tp, status } = await get('/api/v1/nothing/here');
    expect(status).toBe(404);
    const [server] = await traceOf(tracing.receiver, tp.traceId, 1);
    expect(server!.name).toBe('GET');
    expect(server!.attributes['http.route']).toBeUndefined();
    expect(server!.attributes['http.response.status_code']).toBe(404);
    expect(server!.status.code).toBe(STATUS_UNSET);
    // Nest answers it by throwing a NotFoundException of its own: not an error of the application.
    expect(server!.events).toEqual([]);
  });

  it('a handler two controllers inherit is named with the controller that served it, every time', async () => {
    for (const [side, controller] of [
      ['left', 'LeftController'],
      ['right', 'RightController'],
      ['left', 'LeftController'],
    ] as const) {
      const { tp, status } = await get(`/api/${side}/ping`);
      expect(status).toBe(200);
      const [server] = await serverSpans(tp, 1);
      expect(server!.name).toBe(`GET /api/${side}/ping`);
      expect(server!.attributes['nestjs.controller']).toBe(controller);
      expect(server!.attributes['nestjs.handler']).toBe('ping');
    }
  });

  it('a controller without version or with the global prefix only', async () => {
    const { tp, status } = await get('/api/health');
    expect(status).toBe(200);
    const spans = await traceOf(tracing.receiver, tp.traceId, 2);
    const server = spans.find((x) => x.kind === SERVER)!;
    expect(server.name).toBe('GET /api/health');
    expect(server.attributes['nestjs.controller']).toBe('HealthController');
    expect(server.attributes['nestjs.handler']).toBe('check');
  });
});

describe.each(['express', 'fastify'] as const)(
  `${major} on %s with a catch-all filter added in main.ts`,
  (platform) => {
    const h = appWith(platform, undefined, (app) => app.useGlobalFilters(allExceptionsFilter()));

    it('the filter still answers, and the exception is recorded once', async () => {
      const { tp, status, body } = await h.get('/api/v1/users/7/pay', { method: 'POST' });
      expect([status, body]).toEqual([599, '{"all":true}']);
      const [server] = await serverSpans(tp, 2);
      expect(server!.attributes['http.response.status_code']).toBe(599);
      expect(server!.status.code).toBe(STATUS_ERROR);
      expect(server!.attributes['error.type']).toBe('PaymentDeclined');
      expect(server!.events.map((e) => e.attributes['exception.message'])).toEqual(['card declined']);
    });

    it('a guard exception is recorded before the filter answers it', async () => {
      const { tp, status } = await h.get('/api/v1/users/7/forbidden');
      expect(status).toBe(599);
      const [server] = await serverSpans(tp, 2);
      expect(server!.events.map((e) => e.attributes['exception.type'])).toEqual(['ForbiddenException']);
      expect(server!.attributes['nestjs.handler']).toBe('forbidden');
    });
  },
);

describe.each(['express', 'fastify'] as const)(
  `${major} on %s with TracewireInterceptor added in main.ts`,
  (platform) => {
    const h = appWith(platform, undefined, (app) => app.useGlobalInterceptors(new TracewireInterceptor()));

    it('an exception a method-level filter answers is recorded too', async () => {
      const { tp, status } = await h.get('/api/v1/users/7/filtered');
      expect(status).toBe(502);
      const [server] = await serverSpans(tp, 2);
      expect(server!.attributes['error.type']).toBe('Error');
      expect(server!.events.map((e) => e.attributes['exception.message'])).toEqual(['upstream broke']);
    });

    it('an exception both it and the exception filter see is recorded once', async () => {
      const { tp, status } = await h.get('/api/v1/users/7/pay', { method: 'POST' });
      expect(status).toBe(500);
      const [server] = await serverSpans(tp, 2);
      expect(server!.attributes['error.type']).toBe('PaymentDeclined');
      expect(server!.events.map((e) => e.attributes['exception.message'])).toEqual(['card declined']);
    });
  },
);

describe.each(['express', 'fastify'] as const)(`${major} on %s with recordExceptions: false`, (platform) => {
  const { get } = appWith(platform, TracewireModule.forRoot({ recordExceptions: false }));

  it('still names controller and handler (through a guard), with the full route and child spans', async () => {
    const { tp, status } = await get('/api/v1/users/42');
    expect(status).toBe(200);
    const spans = await traceOf(tracing.receiver, tp.traceId, 5);
    const server = spans.find((x) => x.kind === SERVER)!;
    expect(server.name).toBe('GET /api/v1/users/:id');
    expect(server.attributes['nestjs.controller']).toBe('UsersController');
    expect(server.attributes['nestjs.handler']).toBe('findOne');
    expect(spans.find((x) => x.name === 'UsersService.find')!.parentSpanId).toBe(server.spanId);
  });

  it('a request a controller guard rejects is still attributed to its handler', async () => {
    const { tp, status } = await get('/api/v1/users/7/forbidden');
    expect(status).toBe(403);
    const [server] = await serverSpans(tp, 2);
    expect(server!.attributes['nestjs.handler']).toBe('forbidden');
    expect(server!.status.code).toBe(STATUS_UNSET);
  });

  it('a guard exception: 403, no exception event', async () => {
    const { tp, status } = await get('/api/v1/users/7/forbidden');
    expect(status).toBe(403);
    const [server] = await serverSpans(tp, 2);
    expect(server!.events).toEqual([]);
  });

  it('a handler error: 500 and ERROR from the status code, no exception event', async () => {
    const { tp, status } = await get('/api/v1/users/7/pay', { method: 'POST' });
    expect(status).toBe(500);
    const [server] = await serverSpans(tp, 2);
    expect(server!.status.code).toBe(STATUS_ERROR);
    expect(server!.attributes['error.type']).toBe('500');
    expect(server!.events.filter((e) => e.name === 'exception')).toEqual([]);
  });
});

describe.each(['express', 'fastify'] as const)(`${major} on %s with forRootAsync`, (platform) => {
  it('takes options from a factory with injected providers (ignore from "config")', async () => {
    const { Module, Injectable } = nest.common;
    @Injectable()
    class ConfigService {
      get(key: string) {
        return key === 'HEALTH_PATH' ? '/api/health' : undefined;
      }
    }
    @Module({ providers: [ConfigService], exports: [ConfigService] })
    class ConfigModule {}

    const mod = TracewireModule.forRootAsync({
      imports: [ConfigModule],
      inject: [ConfigService],
      useFactory: async (config: ConfigService): Promise<TracewireNestOptions> => ({
        ignore: [config.get('HEALTH_PATH')!],
      }),
    });
    const s = await startApp(platform, mod);
    try {
      const tp = newTraceparent();
      expect((await fetch(`${s.url}/api/health`, { headers: { traceparent: tp.header } })).status).toBe(200);
      const tp2 = newTraceparent();
      expect((await fetch(`${s.url}/api/v1/users/1`, { headers: { traceparent: tp2.header } })).status).toBe(
        200,
      );
      const traced = await traceOf(tracing.receiver, tp2.traceId, 5);
      expect(traced.filter((x) => x.kind === SERVER).map((x) => x.name)).toEqual(['GET /api/v1/users/:id']);
      // The ignored request made no server span, and its work continued the caller's trace.
      const ignored = await settle(tracing.receiver, tp.traceId);
      expect(ignored.map((x) => [x.name, x.parentSpanId])).toEqual([['health work', tp.parentId]]);
    } finally {
      await s.close();
    }
  });

  it('a bad option from the factory fails NestFactory.create() with a TypeError naming it', async () => {
    const mod = TracewireModule.forRootAsync({ useFactory: () => ({ ignore: 42 as never }) });
    const err = await startApp(platform, mod).then(
      async (s) => {
        await s.close();
        return undefined;
      },
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TypeError);
    expect((err as Error).message).toContain('"ignore"');
  });
});

it(`loads the Nest major under test (${major})`, () => {
  expect(nest.version.split('.')[0]).toBe(major.replace('nest', ''));
  // The package source is running against the same @nestjs/core copy (aliased per project).
  expect(context.active()).toBeDefined();
});

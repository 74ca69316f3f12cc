import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { context, trace } from '@opentelemetry/api';
import { tracewire } from '../src/index.js';
import fastify4 from 'fastify4';
import fastify5 from 'fastify5';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  newTraceparent,
  SERVER,
  STATUS_ERROR,
  STATUS_UNSET,
  settle,
  setupTracing,
  type Tracing,
  traceOf,
} from './tracing.js';

// biome-ignore lint/suspicious/noExplicitAny: one test body drives two Fastify majors with different type packages
type AnyFastify = any;
const majors: Array<[string, (opts?: object) => AnyFastify]> = [
  ['fastify4', fastify4 as unknown as (opts?: object) => AnyFastify],
  ['fastify5', fastify5 as unknown as (opts?: object) => AnyFastify],
];

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

let tracing: Tracing;
beforeAll(async () => {
  tracing = await setupTracing();
});
afterAll(async () => {
  await tracing.shutdown();
});

const tracer = () => trace.getTracer('test-app');

async function listen(app: AnyFastify): Promise<string> {
  await app.listen({ port: 0, host: '127.0.0.1' });
  return `http://127.0.0.1:${app.server.address().port}`;
}

describe.each(majors)('%s', (major, Fastify) => {
  async function app(opts?: object, build?: (app: AnyFastify) => void | Promise<void>) {
    const a = Fastify();
    await a.register(tracewire, opts);
    await build?.(a);
    const url = await listen(a);
    return { app: a, url, close: () => a.close() };
  }

  it('starts one SERVER span per request named after the route, with the route template', async () => {
    const s = await app(undefined, (a) =>
      a.get('/users/:id', async (req: AnyFastify) => ({ id: req.params.id })),
    );
    const tp = newTraceparent();
    const res = await fetch(`${s.url}/users/42?x=1`, { headers: { traceparent: tp.header } });
    expect(await res.json()).toEqual({ id: '42' });
    await traceOf(tracing.receiver, tp.traceId, 1);
    const spans = await settle(tracing.receiver, tp.traceId);
    expect(spans).toHaveLength(1); // no `request` span, no duplicate
    const [span] = spans;
    expect(span!.name).toBe('GET /users/:id');
    expect(span!.kind).toBe(SERVER);
    expect(span!.parentSpanId).toBe(tp.parentId);
    expect(span!.attributes['http.route']).toBe('/users/:id');
    expect(span!.attributes['url.path']).toBe('/users/42');
    expect(span!.attributes['url.query']).toBe('x=1');
    expect(span!.attributes['http.request.method']).toBe('GET');
    expect(span!.attributes['http.response.status_code']).toBe(200);
    expect(span!.status.code).toBe(STATUS_UNSET);
    expect(span!.scope).toMatchObject({ name: '@tracewire/fastify', version: pkg.version });
    await s.close();
  });

  it('includes register prefixes in http.route, through nested plugins', async () => {
    const s = await app(undefined, async (a) => {
      await a.register(
        async (api: AnyFastify) => {
          await api.register(
            async (v1: AnyFastify) => {
              v1.get('/orgs/:org', async () => 'ok');
            },
            { prefix: '/v1' },
          );
        },
        { prefix: '/api' },
      );
    });
    const tp = newTraceparent();
    expect((await fetch(`${s.url}/api/v1/orgs/acme`, { headers: { traceparent: tp.header } })).status).toBe(
      200,
    );
    const [span] = await traceOf(tracing.receiver, tp.traceId, 1);
    expect(span!.name).toBe('GET /api/v1/orgs/:org');
    expect(span!.attributes['http.route']).toBe('/api/v1/orgs/:org');
    await s.close();
  });

  it('names a request no route matched after the method only, without http.route', async () => {
    const s = await app(undefined, (a) => a.get('/known', async () => 'ok'));
    const tp = newTraceparent();
    expect((await fetch(`${s.url}/does/not/exist`, { headers: { traceparent: tp.header } })).status).toBe(
      404,
    );
    const [span] = await traceOf(tracing.receiver, tp.traceId, 1);
    expect(span!.name).toBe('GET');
    expect(span!.attributes['http.route']).toBeUndefined();
    expect(span!.attributes['http.response.status_code']).toBe(404);
    expect(span!.status.code).toBe(STATUS_UNSET);
    await s.close();
  });

  it('names wildcard routes by their template and custom not-found handlers by the method alone', async () => {
    const s = await app(undefined, (a) => {
      a.get('/files/*', async () => 'file');
      a.setNotFoundHandler((_req: AnyFastify, reply: AnyFastify) => reply.code(404).send('custom 404'));
    });
    const tp = newTraceparent();
    expect((await fetch(`${s.url}/files/a/b.txt`, { headers: { traceparent: tp.header } })).status).toBe(200);
    const tp2 = newTraceparent();
    const res = await fetch(`${s.url}/nope`, { headers: { traceparent: tp2.header } });
    expect(await res.text()).toBe('custom 404');
    const [file] = await traceOf(tracing.receiver, tp.traceId, 1);
    expect(file!.name).toBe('GET /files/*');
    const [missing] = await traceOf(tracing.receiver, tp2.traceId, 1);
    expect(missing!.name).toBe('GET');
    expect(missing!.attributes['http.route']).toBeUndefined();
    await s.close();
  });

  it('records an error thrown by a handler: exception event, 500, ERROR with error.type', async () => {
    class PaymentError extends Error {}
    const s = await app(undefined, (a) => {
      a.get('/pay', async () => {
        await new Promise((r) => setTimeout(r, 5));
        throw new PaymentError('card declined');
      });
      a.get('/sync', () => {
        throw new TypeError('bad');
      });
    });
    const tp = newTraceparent();
    expect((await fetch(`${s.url}/pay`, { headers: { traceparent: tp.header } })).status).toBe(500);
    const [span] = await traceOf(tracing.receiver, tp.traceId, 1);
    expect(span!.name).toBe('GET /pay');
    expect(span!.attributes['http.response.status_code']).toBe(500);
    expect(span!.status.code).toBe(STATUS_ERROR);
    expect(span!.attributes['error.type']).toBe('PaymentError');
    const ev = span!.events.filter((e) => e.name === 'exception');
    expect(ev).toHaveLength(1);
    expect(ev[0]!.attributes['exception.message']).toBe('card declined');
    expect(String(ev[0]!.attributes['exception.stacktrace'])).toContain('plugin.test.ts');

    const tp2 = newTraceparent();
    expect((await fetch(`${s.url}/sync`, { headers: { traceparent: tp2.header } })).status).toBe(500);
    const [span2] = await traceOf(tracing.receiver, tp2.traceId, 1);
    expect(span2!.attributes['error.type']).toBe('TypeError');
    expect(span2!.status.code).toBe(STATUS_ERROR);
    await s.close();
  });

  it('keeps the status unset for a 4xx error, with the exception recorded', async () => {
    const s = await app(undefined, (a) =>
      a.get('/bad', async () => {
        const err = new Error('no such thing') as Error & { statusCode: number };
        err.statusCode = 404;
        throw err;
      }),
    );
    const tp = newTraceparent();
    expect((await fetch(`${s.url}/bad`, { headers: { traceparent: tp.header } })).status).toBe(404);
    const [span] = await traceOf(tracing.receiver, tp.traceId, 1);
    expect(span!.name).toBe('GET /bad');
    expect(span!.attributes['http.response.status_code']).toBe(404);
    expect(span!.status.code).toBe(STATUS_UNSET);
    expect(span!.attributes['error.type']).toBeUndefined();
    expect(span!.events.map((e) => e.name)).toEqual(['exception']);
    await s.close();
  });

  it('runs hooks and handlers in the request context: user spans are children, across awaits and a streamed body', async () => {
    const s = await app(undefined, (a) => {
      a.addHook('preHandler', async () => {
        await new Promise((r) => setTimeout(r, 2));
        tracer().startSpan('preHandler work').end();
      });
      a.post('/orders', async (req: AnyFastify) => {
        await new Promise((r) => setTimeout(r, 2));
        await tracer().startActiveSpan('load order', async (span) => {
          await new Promise((r) => setImmediate(r));
          tracer().startSpan('nested').end();
          span.end();
        });
        setTimeout(() => tracer().startSpan('timer work').end(), 1);
        await new Promise((r) => setTimeout(r, 10));
        return { n: req.body.n };
      });
    });
    const tp = newTraceparent();
    // A body sent in chunks with pauses: the handler runs after several socket reads.
    const body = new ReadableStream({
      async start(controller) {
        const enc = new TextEncoder();
        controller.enqueue(enc.encode('{"n":'));
        await new Promise((r) => setTimeout(r, 30));
        controller.enqueue(enc.encode('7}'));
        controller.close();
      },
    });
    const res = await fetch(`${s.url}/orders`, {
      method: 'POST',
      body,
      duplex: 'half',
      headers: { 'content-type': 'application/json', traceparent: tp.header },
    } as RequestInit);
    expect(await res.json()).toEqual({ n: 7 });
    const spans = await traceOf(tracing.receiver, tp.traceId, 5);
    const server = spans.find((x) => x.kind === SERVER)!;
    expect(server.name).toBe('POST /orders');
    const byName = new Map(spans.map((x) => [x.name, x]));
    expect(byName.get('preHandler work')!.parentSpanId).toBe(server.spanId);
    expect(byName.get('load order')!.parentSpanId).toBe(server.spanId);
    expect(byName.get('timer work')!.parentSpanId).toBe(server.spanId);
    expect(byName.get('nested')!.parentSpanId).toBe(byName.get('load order')!.spanId);
    await s.close();
  });

  it('ends the span when the response is sent, after a streamed body finished', async () => {
    const s = await app(undefined, (a) =>
      a.get('/stream', (_req: AnyFastify, reply: AnyFastify) => {
        const stream = new Readable({ read() {} });
        let n = 0;
        const timer = setInterval(() => {
          stream.push(`chunk${n}\n`);
          if (++n === 4) {
            clearInterval(timer);
            stream.push(null);
          }
        }, 40);
        reply.type('text/plain').send(stream);
      }),
    );
    const tp = newTraceparent();
    const started = Date.now();
    const res = await fetch(`${s.url}/stream`, { headers: { traceparent: tp.header } });
    expect(await res.text()).toContain('chunk3');
    const elapsed = Date.now() - started;
    const [span] = await traceOf(tracing.receiver, tp.traceId, 1);
    const durationMs = Number(span!.endTimeUnixNano - span!.startTimeUnixNano) / 1e6;
    expect(durationMs).toBeGreaterThanOrEqual(150);
    expect(durationMs).toBeLessThanOrEqual(elapsed + 50);
    await s.close();
  });

  it('a client that disconnects before the response ends the span once, as ERROR "aborted"', async () => {
    let handlerDone!: () => void;
    const finished = new Promise<void>((r) => (handlerDone = r));
    const s = await app(undefined, (a) =>
      a.get('/slow', async () => {
        await new Promise((r) => setTimeout(r, 150));
        handlerDone();
        return 'too late';
      }),
    );
    const tp = newTraceparent();
    const ac = new AbortController();
    const pending = fetch(`${s.url}/slow`, { headers: { traceparent: tp.header }, signal: ac.signal }).catch(
      (e: unknown) => e,
    );
    setTimeout(() => ac.abort(), 30);
    expect(await pending).toBeInstanceOf(Error);
    await finished;
    await traceOf(tracing.receiver, tp.traceId, 1);
    const spans = await settle(tracing.receiver, tp.traceId);
    expect(spans).toHaveLength(1);
    expect(spans[0]!.name).toBe('GET /slow');
    expect(spans[0]!.status.code).toBe(STATUS_ERROR);
    expect(spans[0]!.attributes['error.type']).toBe('aborted');
    await s.close();
  });

  it('per-route opt-out (config.tracewire: false) starts no span and leaves no orphan', async () => {
    const s = await app(undefined, (a) => {
      a.get('/internal', { config: { tracewire: false } }, async () => {
        tracer().startSpan('work in opted-out route').end();
        return 'ok';
      });
      a.get('/traced', async () => 'ok');
    });
    const tp = newTraceparent();
    expect((await fetch(`${s.url}/internal`, { headers: { traceparent: tp.header } })).status).toBe(200);
    const tp2 = newTraceparent();
    expect((await fetch(`${s.url}/traced`, { headers: { traceparent: tp2.header } })).status).toBe(200);
    await traceOf(tracing.receiver, tp2.traceId, 1);
    const spans = await settle(tracing.receiver, tp.traceId);
    // Only the user's span: its parent is the caller's span (the trace continues), not a server span that never ends.
    expect(spans.map((x) => x.name)).toEqual(['work in opted-out route']);
    expect(spans[0]!.parentSpanId).toBe(tp.parentId);
    await s.close();
  });

  it('ignores paths given in `ignore`, still continuing the incoming trace', async () => {
    const s = await app({ ignore: ['/healthz', /^\/metrics/] }, (a) => {
      a.get('/healthz', async () => {
        tracer().startSpan('health probe').end();
        return 'ok';
      });
      a.get('/metrics/x', async () => 'ok');
    });
    const tp = newTraceparent();
    await fetch(`${s.url}/healthz`, { headers: { traceparent: tp.header } });
    const tp2 = newTraceparent();
    await fetch(`${s.url}/metrics/x`, { headers: { traceparent: tp2.header } });
    const spans = await settle(tracing.receiver, tp.traceId, 300);
    expect(spans.map((x) => [x.name, x.parentSpanId])).toEqual([['health probe', tp.parentId]]);
    expect(tracing.receiver.spans().filter((x) => x.traceId === tp2.traceId)).toEqual([]);
    await s.close();
  });

  it('exposes request.tracewire with the server span and its context', async () => {
    const s = await app(undefined, (a) =>
      a.get('/me', async (req: AnyFastify) => {
        req.tracewire.span.setAttribute('app.user', 'ada');
        const fromContext = trace.getSpan(req.tracewire.context)!.spanContext().spanId;
        const active = trace.getSpan(context.active())!.spanContext().spanId;
        return { spanId: req.tracewire.span.spanContext().spanId, fromContext, active };
      }),
    );
    const tp = newTraceparent();
    const body = (await (
      await fetch(`${s.url}/me`, { headers: { traceparent: tp.header } })
    ).json()) as Record<string, string>;
    const [span] = await traceOf(tracing.receiver, tp.traceId, 1);
    expect(body).toEqual({ spanId: span!.spanId, fromContext: span!.spanId, active: span!.spanId });
    expect(span!.attributes['app.user']).toBe('ada');
    await s.close();
  });

  it('rejects bad options at registration with a TypeError naming the option', async () => {
    for (const [opts, name] of [
      [{ ignore: 5 }, 'ignore'],
      [{ requestHook: 'nope' }, 'requestHook'],
      [{ spanName: {} }, 'spanName'],
      [{ captureHeaders: { request: 'x-id' } }, 'captureHeaders.request'],
    ] as const) {
      const a = Fastify();
      const err = await a.register(tracewire, opts).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(TypeError);
      expect((err as Error).message).toContain(`"${name}"`);
      await a.close().catch(() => {});
    }
  });

  it('declares plugin metadata that Fastify checks, without fastify-plugin', async () => {
    const meta = (tracewire as unknown as Record<symbol, unknown>)[Symbol.for('plugin-meta')];
    expect(meta).toEqual({ fastify: '4.x || 5.x', name: '@tracewire/fastify' });
    // Fastify really checks the declared range: a copy declaring an unsupported major is refused.
    const unsupported = (_i: unknown, _o: unknown, d: () => void) => d();
    Object.assign(unsupported, {
      [Symbol.for('skip-override')]: true,
      [Symbol.for('plugin-meta')]: { fastify: '3.x', name: 'copy' },
    });
    const refused = Fastify();
    const err = await refused.register(unsupported).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((err as { code?: string }).code).toBe('FST_ERR_PLUGIN_VERSION_MISMATCH');
    await refused.close().catch(() => {});
    // ...and ours loads, under its display name, on the root (skip-override: no encapsulation).
    const a = Fastify();
    await a.register(tracewire);
    await a.ready();
    expect(a.printPlugins()).toContain('@tracewire/fastify');
    expect(a.hasRequestDecorator('tracewire')).toBe(true);
    await a.close();
  });

  it('registered twice still produces one span per request', async () => {
    const s = await app(undefined, async (a) => {
      await a.register(tracewire);
      a.get('/once', async () => 'ok');
    });
    const tp = newTraceparent();
    await fetch(`${s.url}/once`, { headers: { traceparent: tp.header } });
    await traceOf(tracing.receiver, tp.traceId, 1);
    expect(await settle(tracing.receiver, tp.traceId)).toHaveLength(1);
    expect(tracing.diagMessages.join('\n')).toContain('already registered');
    await s.close();
  });

  it('a throwing requestHook or responseHook never breaks the request', async () => {
    const s = await app(
      {
        requestHook: () => {
          throw new Error('hook boom');
        },
        responseHook: (span: { setAttribute(k: string, v: string): void }) => {
          span.setAttribute('app.after', 'yes');
          throw new Error('hook boom 2');
        },
      },
      (a) => a.get('/hooked', async () => 'fine'),
    );
    const tp = newTraceparent();
    const res = await fetch(`${s.url}/hooked`, { headers: { traceparent: tp.header } });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('fine');
    const [span] = await traceOf(tracing.receiver, tp.traceId, 1);
    expect(span!.name).toBe('GET /hooked');
    expect(span!.attributes['app.after']).toBe('yes');
    await s.close();
  });

  it('traces only the routes of the scope it is registered in', async () => {
    const a = Fastify();
    await a.register(async (scoped: AnyFastify) => {
      await scoped.register(tracewire);
      scoped.get('/in', async () => 'ok');
    });
    a.get('/out', async () => 'ok');
    const url = await listen(a);
    const tpIn = newTraceparent();
    const tpOut = newTraceparent();
    await fetch(`${url}/in`, { headers: { traceparent: tpIn.header } });
    await fetch(`${url}/out`, { headers: { traceparent: tpOut.header } });
    const [span] = await traceOf(tracing.receiver, tpIn.traceId, 1);
    expect(span!.name).toBe('GET /in');
    expect(span!.kind).toBe(SERVER);
    expect(await settle(tracing.receiver, tpOut.traceId)).toEqual([]);
    await a.close();
  });

  it('captures listed request and response headers as string arrays, never secrets', async () => {
    const s = await app(
      { captureHeaders: { request: ['x-tenant'], response: ['x-served-by', 'set-cookie'] } },
      (a) =>
        a.get('/h', async (_req: AnyFastify, reply: AnyFastify) => {
          reply.header('x-served-by', 'node-1').header('set-cookie', 'sid=secret');
          return 'ok';
        }),
    );
    const tp = newTraceparent();
    await fetch(`${s.url}/h`, { headers: { traceparent: tp.header, 'x-tenant': 'acme' } });
    const [span] = await traceOf(tracing.receiver, tp.traceId, 1);
    expect(span!.attributes['http.request.header.x-tenant']).toEqual(['acme']);
    expect(span!.attributes['http.response.header.x-served-by']).toEqual(['node-1']);
    expect(span!.attributes['http.response.header.set-cookie']).toBeUndefined();
    expect(JSON.stringify(span!.attributes)).not.toContain('secret');
    await s.close();
  });

  it(`reports ${major} in a way the user can see: server spans carry the server port`, async () => {
    const s = await app(undefined, (a) => a.get('/port', async () => 'ok'));
    const tp = newTraceparent();
    await fetch(`${s.url}/port`, { headers: { traceparent: tp.header } });
    const [span] = await traceOf(tracing.receiver, tp.traceId, 1);
    expect(span!.attributes['server.port']).toBe(Number(new URL(s.url).port));
    expect(span!.attributes['server.address']).toBe('127.0.0.1');
    await s.close();
  });
});

it('keeps VERSION equal to package.json', async () => {
  const { VERSION } = await import('../src/plugin.js');
  expect(VERSION).toBe(pkg.version);
});

/**
 * User hooks and span names that throw, return garbage or are slow are fenced and reported
 * (issue #8): the request is answered as without tracing, the span is still exported (with the
 * default name when the name callback failed), the problem is reported through `diag`, and nothing
 * escapes as an uncaught exception or an unhandled rejection. Server hooks (requestHook,
 * responseHook, spanName, ignore) through a real Express app; outgoing hooks (requestHook,
 * responseHook, urlTemplate, propagateTo/ignore predicates) through real fetch and node:http calls.
 * Spans are checked in a real OTLP receiver (independent decoder).
 */
import { createServer, get as httpGet, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type DiagLogger, DiagLogLevel, diag, type Span } from '@opentelemetry/api';
import { start, type Tracewire } from '@tracewire/core';
import { type ExpressTracewireOptions, tracewire } from '@tracewire/express';
import { type DecodedSpan, type OtlpReceiver, startOtlpReceiver } from '@tracewire/test-utils';
import express from 'express';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';

const escaped: unknown[] = [];
const onEscape = (e: unknown) => escaped.push(e);
const reports: string[] = [];
const logger: DiagLogger = {
  error: (m) => reports.push(`error ${m}`),
  warn: (m) => reports.push(`warn ${m}`),
  info: (m) => reports.push(`info ${m}`),
  debug: () => {},
  verbose: () => {},
};

/** How the outgoing hooks misbehave in the current test. */
let outgoingMode: 'throw' | 'garbage' | 'reject' = 'throw';
const misbehave = (what: string): never | undefined => {
  if (outgoingMode === 'throw') throw new Error(`${what} exploded`);
  if (outgoingMode === 'reject') return Promise.reject(new Error(`${what} rejected`)) as never;
  return { not: 'a string' } as never;
};

let receiver: OtlpReceiver;
let handle: Tracewire;
let downstream: Server;
let downstreamPort: number;
const servers: Server[] = [];

beforeAll(async () => {
  process.on('uncaughtException', onEscape);
  process.on('unhandledRejection', onEscape);
  receiver = await startOtlpReceiver();
  handle = start({
    serviceName: 'hooks',
    otlp: { url: receiver.tracesUrl },
    batch: { scheduledDelayMillis: 20 },
    shutdownOnSignals: false,
    outgoing: {
      propagateTo: ['<internal>', (() => misbehave('propagateTo predicate')) as unknown as () => boolean],
      ignore: [(() => misbehave('ignore predicate')) as unknown as () => boolean],
      urlTemplate: () => misbehave('urlTemplate') as undefined,
      requestHook: () => misbehave('outgoing requestHook'),
      responseHook: () => misbehave('outgoing responseHook'),
    },
  });
  diag.setLogger(logger, { logLevel: DiagLogLevel.ALL, suppressOverrideMessage: true });
  downstream = createServer((_req, res) => res.end('downstream'));
  await new Promise<void>((r) => downstream.listen(0, '127.0.0.1', r));
  downstreamPort = (downstream.address() as AddressInfo).port;
});

afterAll(async () => {
  for (const s of servers) s.close();
  downstream?.close();
  await handle?.shutdown();
  await receiver?.close();
  diag.disable();
  process.off('uncaughtException', onEscape);
  process.off('unhandledRejection', onEscape);
});

beforeEach(() => {
  reports.length = 0;
  escaped.length = 0;
});

/** An Express app with tracewire(options), GET /users/:id, and GET /call making an outgoing request. */
async function app(options: ExpressTracewireOptions): Promise<string> {
  const a = express();
  a.use(tracewire(options));
  a.get('/users/:id', (req, res) => {
    res.json({ id: req.params.id });
  });
  a.get('/call', async (_req, res) => {
    const viaFetch = await (await fetch(`http://127.0.0.1:${downstreamPort}/f`)).text();
    const viaHttp = await new Promise<string>((resolve, reject) => {
      httpGet(`http://127.0.0.1:${downstreamPort}/h`, (r) => {
        let body = '';
        r.on('data', (d) => {
          body += d;
        });
        r.on('end', () => resolve(body));
      }).on('error', reject);
    });
    res.json({ viaFetch, viaHttp });
  });
  const server = createServer(a);
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** The server span of the request to `path` (waits for it to be exported). */
async function serverSpan(path: string): Promise<DecodedSpan> {
  await handle.forceFlush();
  const spans = await receiver.waitFor(
    (all) => all.some((s) => s.kind === 2 && s.attributes['url.path'] === path),
    5000,
  );
  return spans.filter((s) => s.kind === 2 && s.attributes['url.path'] === path).at(-1)!;
}

/** Lets pending rejections surface before checking that none escaped. */
const settle = () => new Promise((r) => setTimeout(r, 50));

describe('server hooks', () => {
  it('a throwing requestHook, responseHook and spanName: request served, span exported with the default name, each reported', async () => {
    const base = await app({
      requestHook: () => {
        throw new Error('requestHook exploded');
      },
      responseHook: () => {
        throw new TypeError('responseHook exploded');
      },
      spanName: () => {
        throw new RangeError('spanName exploded');
      },
    });
    const res = await fetch(`${base}/users/1`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ id: '1' });
    const span = await serverSpan('/users/1');
    expect(span.name).toBe('GET /users/:id');
    expect(span.attributes['http.response.status_code']).toBe(200);
    const text = reports.join('\n');
    expect(text).toMatch(/requestHook threw.*requestHook exploded/);
    expect(text).toMatch(/responseHook threw.*responseHook exploded/);
    expect(text).toMatch(/spanName threw.*spanName exploded/);
    await settle();
    expect(escaped).toEqual([]);
  });

  it('spanName returning garbage (number, object, empty string, a promise) falls back to the default name', async () => {
    const garbage: unknown[] = [42, { name: 'x' }, '', Promise.resolve('GET later'), null, Symbol('s')];
    let i = 0;
    const base = await app({ spanName: () => garbage[i++ % garbage.length] as string });
    for (let k = 0; k < garbage.length; k++) {
      const res = await fetch(`${base}/users/g${k}`);
      expect(res.status).toBe(200);
      expect((await serverSpan(`/users/g${k}`)).name).toBe('GET /users/:id');
    }
    await settle();
    expect(escaped).toEqual([]);
  });

  it('async hooks that reject do not surface as unhandled rejections (they would crash the process)', async () => {
    const base = await app({
      requestHook: (async () => {
        throw new Error('async requestHook rejected');
      }) as unknown as (span: Span) => void,
      responseHook: (async () => {
        throw new Error('async responseHook rejected');
      }) as unknown as (span: Span) => void,
      spanName: (async () => {
        throw new Error('async spanName rejected');
      }) as unknown as () => string,
    });
    const res = await fetch(`${base}/users/async`);
    expect(res.status).toBe(200);
    expect((await serverSpan('/users/async')).name).toBe('GET /users/:id');
    await settle();
    // Node ≥ 15 ends the process on an unhandled rejection: a rejected hook promise must be caught
    // and reported like a throw.
    expect(escaped).toEqual([]);
    expect(reports.join('\n')).toMatch(/requestHook.*async requestHook rejected/);
  });

  it('a slow async hook does not delay the response', async () => {
    let hookDone = false;
    const base = await app({
      requestHook: (async () => {
        await new Promise((r) => setTimeout(r, 1500));
        hookDone = true;
      }) as unknown as (span: Span) => void,
    });
    const res = await fetch(`${base}/users/slow`);
    expect(res.status).toBe(200);
    // The answer came while the hook was still waiting: tracing does not await user hooks.
    expect(hookDone).toBe(false);
  });

  it('an ignore predicate that throws: the request is served and traced (not ignored), the throw reported', async () => {
    const base = await app({
      ignore: [
        () => {
          throw new Error('ignore exploded');
        },
      ],
    });
    const res = await fetch(`${base}/users/ig`);
    expect(res.status).toBe(200);
    expect((await serverSpan('/users/ig')).name).toBe('GET /users/:id');
    expect(reports.join('\n')).toMatch(/ignore threw.*ignore exploded/);
  });

  it('an ignore predicate returning a non-boolean (an async predicate, an object) does not ignore every request', async () => {
    // A user writing `ignore: [async (req) => req.url === '/healthz']` gets a Promise back for every
    // request; a Promise is truthy, so treating the result as truthy would silently untrace the
    // whole service. Only `true` means "ignore" (as for the outgoing matchers).
    const base = await app({
      ignore: [
        (async (req: { url?: string }) => req.url === '/healthz') as unknown as () => boolean,
        (() => ({ ignore: false })) as unknown as () => boolean,
      ],
    });
    const res = await fetch(`${base}/users/async-ignore`);
    expect(res.status).toBe(200);
    expect((await serverSpan('/users/async-ignore')).name).toBe('GET /users/:id');
  });

  it('hooks that misuse the span (end it early, garbage attributes, bad status) do not break the request', async () => {
    const base = await app({
      requestHook: (span) => {
        span.setAttribute('garbage.object', { a: 1 } as never);
        span.setAttribute('garbage.undefined', undefined as never);
        span.setAttribute('', 'empty key');
        span.setAttributes(null as never);
        span.setStatus({ code: 99 } as never);
        span.updateName(undefined as never);
        span.addEvent(undefined as never);
        span.recordException(undefined as never);
      },
      responseHook: (span) => {
        span.end();
        span.end();
      },
    });
    const res = await fetch(`${base}/users/misuse`);
    expect(res.status).toBe(200);
    const span = await serverSpan('/users/misuse');
    expect(span.attributes['garbage.object']).toBeUndefined();
    await settle();
    expect(escaped).toEqual([]);
  });
});

describe('outgoing hooks (fetch and node:http)', () => {
  for (const mode of ['throw', 'garbage', 'reject'] as const) {
    it(`hooks, urlTemplate and matcher predicates that ${mode}: the calls succeed, CLIENT spans are exported`, async () => {
      outgoingMode = mode;
      const base = await app({});
      const res = await fetch(`${base}/call`);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ viaFetch: 'downstream', viaHttp: 'downstream' });
      const server = await serverSpan('/call');
      const clients = await receiver.waitFor(
        (all) => all.filter((s) => s.kind === 3 && s.traceId === server.traceId).length >= 2,
        5000,
      );
      const mine = clients.filter((s) => s.kind === 3 && s.traceId === server.traceId);
      expect(mine.map((s) => s.name).sort()).toEqual(['GET', 'GET']);
      await settle();
      expect(escaped).toEqual([]);
      if (mode === 'throw') expect(reports.join('\n')).toMatch(/exploded/);
    });
  }
});

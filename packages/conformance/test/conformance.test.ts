/**
 * The same cases against every adapter × framework version (src/drivers/index.ts), asserted on
 * what a collector receives: OTLP/HTTP protobuf decoded by the independent decoder.
 */
import type { DecodedSpan } from '@tracewire/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningApp } from '../src/driver.js';
import { drivers } from '../src/drivers/index.js';
import { type Harness, send, STATUS_ERROR, STATUS_UNSET, sleep, startHarness } from '../src/harness.js';
import { ROUTES, type RouteDef, templateOf } from '../src/route-table.js';

const TRACE_ID = '0af7651916cd43dd8448eb211c80319c';
const PARENT_ID = 'b7ad6b7169203331';

/** A concrete request path for a route: every `:param` replaced by a value. */
function concrete(route: RouteDef): string {
  return templateOf(route).replace(/:([A-Za-z0-9_]+)/g, (_m, name: string) => `v-${name}`);
}

function exceptions(span: DecodedSpan) {
  return span.events
    .filter((e) => e.name === 'exception')
    .map((e) => ({
      type: e.attributes['exception.type'],
      message: e.attributes['exception.message'],
      stack: e.attributes['exception.stacktrace'],
    }));
}

const OPTIONS = {
  ignore: ['/healthz'],
  captureHeaders: { request: ['x-tenant', 'authorization'], response: ['x-served-by'] },
};

describe.each(drivers.map((d) => [d.name, d] as const))('%s', (_name, driver) => {
  let h: Harness;
  let app: RunningApp;

  beforeAll(async () => {
    h = await startHarness();
    app = await driver.start({ routes: ROUTES, options: OPTIONS });
  });
  afterAll(async () => {
    await app?.close();
    await h?.shutdown();
  });

  describe('naming and http.route from the common route table', () => {
    const named = ROUTES.filter((r) => r.path !== '/healthz');
    for (const route of named) {
      const template = templateOf(route);
      it(`${route.method} ${concrete(route)} → "${route.method} ${template}"`, async () => {
        await send(app.url + concrete(route), route.method);
        const [span] = await h.serverSpansFor(concrete(route), route.method);
        expect(span?.name).toBe(`${route.method} ${template}`);
        expect(span?.attributes['http.route']).toBe(template);
        expect(span?.kind).toBe(2);
        expect(span?.scope.name).toBe(driver.scope);
      });
    }

    it('a request no route matched: 404, named by the method alone, no http.route, never the raw path', async () => {
      const reply = await send(`${app.url}/no/such/route/123`);
      expect(reply.status).toBe(404);
      const [span] = await h.serverSpansFor('/no/such/route/123');
      expect(span?.name).toBe('GET');
      expect(span?.attributes['http.route']).toBeUndefined();
      expect(span?.attributes['http.response.status_code']).toBe(404);
      expect(span?.status.code).toBe(STATUS_UNSET);
    });
  });

  describe('status matrix', () => {
    const matrix = [
      { path: '/users/v-id', status: 200, code: STATUS_UNSET, errorType: undefined, exception: undefined },
      { path: '/missing', status: 404, code: STATUS_UNSET, errorType: undefined, exception: undefined },
      { path: '/broken', status: 500, code: STATUS_ERROR, errorType: '500', exception: undefined },
      {
        path: '/boom',
        status: 500,
        code: STATUS_ERROR,
        errorType: 'ConformanceError',
        exception: 'conformance failure',
      },
      {
        path: '/boom-async',
        status: 500,
        code: STATUS_ERROR,
        errorType: 'ConformanceError',
        exception: 'conformance async failure',
      },
      // handled by the app's error handling with a 4xx: the exception is kept, the status stays unset
      {
        path: '/rejected',
        status: 422,
        code: STATUS_UNSET,
        errorType: undefined,
        exception: 'conformance rejected input',
      },
    ];
    for (const row of matrix) {
      it(`${row.path}: ${row.status}, status ${row.code === STATUS_ERROR ? 'ERROR' : 'UNSET'}, error.type ${row.errorType ?? '(none)'}`, async () => {
        const reply = await send(app.url + row.path);
        expect(reply.status).toBe(row.status);
        const [span] = await h.serverSpansFor(row.path);
        expect(span?.attributes['http.response.status_code']).toBe(row.status);
        expect(span?.status.code).toBe(row.code);
        expect(span?.attributes['error.type']).toBe(row.errorType);
        const ex = exceptions(span as DecodedSpan);
        if (row.exception === undefined) {
          expect(ex).toHaveLength(0);
        } else {
          expect(ex).toHaveLength(1);
          expect(ex[0]?.type).toBe('ConformanceError');
          expect(ex[0]?.message).toBe(row.exception);
          expect(String(ex[0]?.stack)).toContain('ConformanceError');
        }
      });
    }
  });

  describe('propagation', () => {
    it('continues an incoming sampled trace; outgoing calls carry the server span as parent', async () => {
      const reply = await send(`${app.url}/users/prop-1`, 'GET', {
        traceparent: `00-${TRACE_ID}-${PARENT_ID}-01`,
        tracestate: 'vendor=abc,other=1',
      });
      const [span] = await h.serverSpansFor('/users/prop-1');
      expect(span?.traceId).toBe(TRACE_ID);
      expect(span?.parentSpanId).toBe(PARENT_ID);
      expect(span?.traceState).toBe('vendor=abc,other=1');
      const echoed = JSON.parse(reply.body);
      expect(echoed.traceparent).toBe(`00-${TRACE_ID}-${span?.spanId}-01`);
      expect(echoed.tracestate).toBe('vendor=abc,other=1');
    });

    it('keeps the W3C Level 2 `random` flag exactly as received, on the span and downstream', async () => {
      const reply = await send(`${app.url}/users/prop-r`, 'GET', {
        traceparent: `00-${TRACE_ID}-${PARENT_ID}-03`,
      });
      const [span] = await h.serverSpansFor('/users/prop-r');
      expect(span?.traceId).toBe(TRACE_ID);
      expect(JSON.parse(reply.body).traceparent).toBe(`00-${TRACE_ID}-${span?.spanId}-03`);
    });

    it('a new trace (no traceparent) sets the `random` flag downstream', async () => {
      const reply = await send(`${app.url}/users/prop-new`);
      const [span] = await h.serverSpansFor('/users/prop-new');
      expect(JSON.parse(reply.body).traceparent).toBe(`00-${span?.traceId}-${span?.spanId}-03`);
    });

    it('an incoming unsampled trace: no span exported, the decision flows downstream', async () => {
      const reply = await send(`${app.url}/users/prop-2`, 'GET', {
        traceparent: `00-${TRACE_ID}-${PARENT_ID}-00`,
      });
      const echoed = JSON.parse(reply.body);
      expect(echoed.traceparent).toMatch(new RegExp(`^00-${TRACE_ID}-[0-9a-f]{16}-00$`));
      await send(`${app.url}/users/prop-2b`);
      await h.serverSpansFor('/users/prop-2b');
      expect(h.receiver.spans().filter((s) => s.attributes['url.path'] === '/users/prop-2')).toHaveLength(0);
    });

    it('an invalid traceparent starts a new trace', async () => {
      await send(`${app.url}/users/prop-3`, 'GET', {
        traceparent: `00-${TRACE_ID.toUpperCase()}-${PARENT_ID}-01`,
      });
      const [span] = await h.serverSpansFor('/users/prop-3');
      expect(span?.traceId).not.toBe(TRACE_ID);
      expect(span?.traceId).toMatch(/^[0-9a-f]{32}$/);
      expect(span?.parentSpanId).toBe('');
    });
  });

  describe('attributes', () => {
    it('sets the semantic-convention request and response attributes, redacting signature query values', async () => {
      await send(`${app.url}/api/items/attr-1?q=shoes&sig=s3cr3t`, 'GET', {
        'user-agent': 'conformance/1.0',
        'x-tenant': 'blue',
        authorization: 'Bearer top-secret',
      });
      const [span] = await h.serverSpansFor('/api/items/attr-1');
      const port = Number(new URL(app.url).port);
      expect(span?.attributes).toMatchObject({
        'http.request.method': 'GET',
        'url.path': '/api/items/attr-1',
        'url.query': 'q=shoes&sig=REDACTED',
        'url.scheme': 'http',
        'server.address': '127.0.0.1',
        'server.port': port,
        'client.address': '127.0.0.1',
        'network.peer.address': '127.0.0.1',
        'network.protocol.version': '1.1',
        'user_agent.original': 'conformance/1.0',
        'http.response.status_code': 200,
        'http.route': '/api/items/:itemId',
        'http.request.header.x-tenant': ['blue'],
      });
      expect(span?.attributes['http.request.header.authorization']).toBeUndefined();
      expect(JSON.stringify(span?.attributes)).not.toContain('top-secret');
    });

    it('captures the listed response headers as string arrays', async () => {
      await send(`${app.url}/headers`);
      const [span] = await h.serverSpansFor('/headers');
      expect(span?.attributes['http.response.header.x-served-by']).toEqual(['node-1']);
    });

    it('an unknown method is _OTHER, named HTTP, with the original kept', async () => {
      await send(`${app.url}/users/m-1`, 'PURGE');
      const spans = await h.receiver.waitFor((s) =>
        s.some((x) => x.attributes['url.path'] === '/users/m-1' && x.kind === 2),
      );
      const span = spans.find((x) => x.attributes['url.path'] === '/users/m-1');
      expect(span?.attributes['http.request.method']).toBe('_OTHER');
      expect(span?.attributes['http.request.method_original']).toBe('PURGE');
      expect(span?.name.startsWith('HTTP')).toBe(true);
    });
  });

  describe('ignore', () => {
    it('an ignored path gets no span but continues the incoming trace for outgoing calls', async () => {
      const reply = await send(`${app.url}/healthz`, 'GET', {
        traceparent: `00-${TRACE_ID}-${PARENT_ID}-01`,
      });
      expect(JSON.parse(reply.body).traceparent).toBe(`00-${TRACE_ID}-${PARENT_ID}-01`);
      await send(`${app.url}/users/after-ignore`);
      await h.serverSpansFor('/users/after-ignore');
      expect(h.receiver.spans().filter((s) => s.attributes['url.path'] === '/healthz')).toHaveLength(0);
    });
  });

  describe('one span per request', () => {
    it('five requests, five spans, each its own trace', async () => {
      for (let i = 0; i < 5; i++) await send(`${app.url}/api/v1/orders/once`);
      const spans = await h.serverSpansFor('/api/v1/orders/once', 'GET', 5);
      await sleep(100);
      expect(
        h.receiver.spans().filter((s) => s.attributes['url.path'] === '/api/v1/orders/once'),
      ).toHaveLength(5);
      expect(new Set(spans.map((s) => s.traceId)).size).toBe(5);
    });
  });
});

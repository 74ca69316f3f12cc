/**
 * Koa with tracewire's own SDK (`start()` from @tracewire/core), set up as users do, including
 * outgoing-request tracing: a handler's `fetch` to another service is a CLIENT child of the server
 * span and carries the trace (with the W3C Level 2 `random` flag) to that service.
 */
import { start, type Tracewire } from '@tracewire/core';
import { type OtlpReceiver, startOtlpReceiver } from '@tracewire/test-utils';
import Router from '@koa/router';
import koa2 from 'koa2';
import koa3 from 'koa3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tracewire } from '../src/index.js';
import { type Served, send, serve } from './helpers.js';

type KoaClass = typeof koa3;
const TRACE_ID = '5bf92f3577b34da6a3ce929d0e0e4736';
const PARENT_ID = '10f067aa0ba902b7';

let receiver: OtlpReceiver;
let sdk: Tracewire;
let downstream: Served;
const seenByDownstream: Array<string | undefined> = [];

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  sdk = start({
    serviceName: 'koa-start-test',
    otlp: { url: receiver.tracesUrl },
    batch: { scheduledDelayMillis: 20 },
    shutdownOnSignals: false,
  });
  downstream = await serve((req, res) => {
    seenByDownstream.push(req.headers.traceparent as string | undefined);
    res.end('inventory');
  });
});
afterAll(async () => {
  await downstream?.close();
  await sdk?.shutdown();
  await receiver?.close();
});

function app(Koa: KoaClass) {
  const a = new Koa();
  a.use(tracewire());
  const shop = new Router({ prefix: '/shop' });
  shop.get('/orders/:id', async (ctx) => {
    const stock = await (await fetch(`${downstream.url}/stock`)).text();
    ctx.body = `order with ${stock}`;
  });
  a.use(shop.routes());
  return a.callback();
}

describe.each([
  ['Koa 2', koa2 as unknown as KoaClass],
  ['Koa 3', koa3],
])('%s with start()', (_label, Koa) => {
  it('server span named by route; the outgoing call is its CLIENT child and carries the trace and its random flag', async () => {
    receiver.reset();
    seenByDownstream.length = 0;
    const server = await serve(app(Koa));
    try {
      // the test's own request is traced too (it is an outgoing call of this process): give it a parent
      const reply = await send(`${server.url}/shop/orders/3`, {
        headers: { traceparent: `00-${TRACE_ID}-${PARENT_ID}-03` },
      });
      expect(reply.body).toBe('order with inventory');
      const spans = await receiver.waitFor(
        (s) =>
          s.some((x) => x.kind === 2 && x.attributes['url.path'] === '/shop/orders/3') &&
          s.some((x) => x.kind === 3 && String(x.attributes['url.full']).endsWith('/stock')),
      );
      const srv = spans.find((x) => x.kind === 2 && x.attributes['url.path'] === '/shop/orders/3');
      const client = spans.find((x) => x.kind === 3 && String(x.attributes['url.full']).endsWith('/stock'));
      expect(srv?.name).toBe('GET /shop/orders/:id');
      expect(srv?.traceId).toBe(TRACE_ID);
      expect(srv?.parentSpanId).toBe(PARENT_ID);
      expect(srv?.resource['service.name']).toBe('koa-start-test');
      expect(srv?.resource['telemetry.sdk.name']).toBe('tracewire');
      expect(client?.parentSpanId).toBe(srv?.spanId);
      expect(client?.traceId).toBe(TRACE_ID);
      expect(seenByDownstream[0]).toBe(`00-${TRACE_ID}-${client?.spanId}-03`);
    } finally {
      await server.close();
    }
  });
});

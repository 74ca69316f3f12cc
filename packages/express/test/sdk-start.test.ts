/**
 * With tracewire's own SDK (`start()` from @tracewire/core), set up as users do, including
 * outgoing-request tracing: a handler's `fetch` to another service is a CLIENT child of the server
 * span and carries the trace (with the W3C Level 2 `random` flag) to that service.
 */
import { start, type Tracewire } from '@tracewire/core';
import { type OtlpReceiver, startOtlpReceiver } from '@tracewire/test-utils';
import type { Express, Request, Response } from 'express';
import express4 from 'express4';
import express5 from 'express5';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tracewire } from '../src/index.js';
import { type Served, send, serve } from './helpers.js';

type ExpressFactory = typeof express5;
const TRACE_ID = '5bf92f3577b34da6a3ce929d0e0e4736';
const PARENT_ID = '10f067aa0ba902b7';

let receiver: OtlpReceiver;
let sdk: Tracewire;
let downstream: Served;
const seenByDownstream: Array<string | undefined> = [];

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  sdk = start({
    serviceName: 'express-start-test',
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

function app(express: ExpressFactory): Express {
  const a = express();
  a.use(tracewire());
  const shop = express.Router();
  shop.get('/orders/:id', async (_req: Request, res: Response) => {
    const stock = await (await fetch(`${downstream.url}/stock`)).text();
    res.send(`order with ${stock}`);
  });
  a.use('/shop', shop);
  return a;
}

describe.each([
  ['Express 4', express4 as unknown as ExpressFactory],
  ['Express 5', express5],
])('%s with start()', (_label, express) => {
  it('server span named by route; the outgoing call is its CLIENT child and carries the trace and its random flag', async () => {
    receiver.reset();
    seenByDownstream.length = 0;
    const server = await serve(app(express));
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
      expect(srv?.resource['service.name']).toBe('express-start-test');
      expect(srv?.resource['telemetry.sdk.name']).toBe('tracewire');
      expect(client?.parentSpanId).toBe(srv?.spanId);
      expect(client?.traceId).toBe(TRACE_ID);
      expect(seenByDownstream[0]).toBe(`00-${TRACE_ID}-${client?.spanId}-03`);
    } finally {
      await server.close();
    }
  });
});

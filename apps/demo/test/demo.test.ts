/**
 * End to end: the viewer and the four demo services (separate processes, each with its own
 * `start()`), orders placed through the gateway, and the traces checked through the viewer's API:
 * complete, correctly nested across four services, with error marks where a user expects them.
 */
import type { Viewer } from '@tracewire/viewer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Demo } from '../src/launch.js';
import { placeOrder } from '../src/traffic.js';
import { type ApiSpan, type ApiTrace, attr, startAll, waitForTrace } from './helpers.js';

let viewer: Viewer;
let demo: Demo;

beforeAll(async () => {
  ({ viewer, demo } = await startAll());
}, 60_000);

afterAll(async () => {
  await demo?.stop();
  await viewer?.close();
});

const SERVER = 2;
const CLIENT = 3;
const INTERNAL = 1;
const ERROR = 2;

function byName(t: ApiTrace, service: string, name: string): ApiSpan {
  const s = t.spans.find((x) => x.service === service && x.name === name);
  if (!s)
    throw new Error(
      `no ${service} span named ${name} in ${t.spans.map((x) => `${x.service}:${x.name}`).join(', ')}`,
    );
  return s;
}
const parentOf = (t: ApiTrace, s: ApiSpan) => t.spans.find((x) => x.spanId === s.parentSpanId);

/** Every span but the root names a parent that is in the trace: the trace is complete. */
function expectComplete(t: ApiTrace) {
  const roots = t.spans.filter((s) => s.parentSpanId === '');
  expect(roots.map((r) => `${r.service}:${r.name}`)).toEqual(['gateway:POST /orders']);
  for (const s of t.spans)
    if (s.parentSpanId) expect(parentOf(t, s), `parent of ${s.service}:${s.name}`).toBeDefined();
  expect(t.missingRoot).toBe(false);
}

describe('demo shop traced end to end', () => {
  it('a confirmed order is one trace across gateway → orders → inventory and payments', async () => {
    const order = await placeOrder(demo.gatewayUrl, 'ok');
    expect(order.status).toBe(201);
    expect(order.traceId).toMatch(/^[0-9a-f]{32}$/);
    const t = await waitForTrace(viewer, order.traceId!, 10);
    expectComplete(t);
    expect(new Set(t.services)).toEqual(new Set(['gateway', 'orders', 'inventory', 'payments']));
    expect(t.errorCount).toBe(0);

    const root = byName(t, 'gateway', 'POST /orders');
    expect(root.kind).toBe(SERVER);
    expect(attr(root, 'http.response.status_code')).toBe(201);
    // gateway's fetch → orders' server span (NestJS, global prefix included in the route)
    const ordersServer = byName(t, 'orders', 'POST /api/orders');
    expect(ordersServer.kind).toBe(SERVER);
    const gatewayClient = parentOf(t, ordersServer)!;
    expect(gatewayClient.service).toBe('gateway');
    expect(gatewayClient.kind).toBe(CLIENT);
    expect(parentOf(t, gatewayClient)?.spanId).toBe(root.spanId);
    // the saga's own spans (@Traced) nest under the orders server span
    const place = byName(t, 'orders', 'saga.place-order');
    expect(place.kind).toBe(INTERNAL);
    const reserve = byName(t, 'orders', 'saga.reserve-stock');
    const charge = byName(t, 'orders', 'saga.charge');
    expect(parentOf(t, reserve)?.spanId).toBe(place.spanId);
    expect(parentOf(t, charge)?.spanId).toBe(place.spanId);
    // downstream servers are children of the orders CLIENT spans made inside the saga steps
    const inventory = byName(t, 'inventory', 'POST /reservations');
    const payments = byName(t, 'payments', 'POST /charges');
    expect(parentOf(t, parentOf(t, inventory)!)?.spanId).toBe(reserve.spanId);
    expect(parentOf(t, parentOf(t, payments)!)?.spanId).toBe(charge.spanId);
    expect(t.spans.every((s) => s.traceId === order.traceId)).toBe(true);
  });

  it('a declined payment shows the compensation (stock released) and ends as rejected, 4xx not marked as server errors', async () => {
    const order = await placeOrder(demo.gatewayUrl, 'declined');
    expect(order.status).toBe(402);
    expect(order.body).toMatchObject({ status: 'rejected' });
    const t = await waitForTrace(viewer, order.traceId!, 13);
    expectComplete(t);
    const compensate = byName(t, 'orders', 'saga.compensate');
    const release = byName(t, 'inventory', 'DELETE /reservations/:id');
    expect(parentOf(t, parentOf(t, release)!)?.spanId).toBe(compensate.spanId);
    // Server spans answering 4xx keep status unset; the client span that got the 402 is an error.
    expect(byName(t, 'payments', 'POST /charges').status.code).not.toBe(ERROR);
    expect(byName(t, 'gateway', 'POST /orders').status.code).not.toBe(ERROR);
    const paymentsCall = parentOf(t, byName(t, 'payments', 'POST /charges'))!;
    expect(paymentsCall.kind).toBe(CLIENT);
    expect(paymentsCall.status.code).toBe(ERROR);
    expect(attr(paymentsCall, 'http.response.status_code')).toBe(402);
  });

  it('a failing payment provider is an error trace with the exception recorded where it was thrown', async () => {
    const order = await placeOrder(demo.gatewayUrl, 'provider-error');
    expect(order.status).toBe(502);
    const t = await waitForTrace(viewer, order.traceId!, 13);
    expectComplete(t);
    expect(t.errorCount).toBeGreaterThan(0);
    const payments = byName(t, 'payments', 'POST /charges');
    expect(payments.status.code).toBe(ERROR);
    expect(attr(payments, 'http.response.status_code')).toBe(500);
    const exception = payments.events.find((e) => e.name === 'exception');
    expect(exception).toBeDefined();
    expect(exception!.attributes.find((a) => a.key === 'exception.type')?.value).toEqual({
      stringValue: 'PaymentProviderError',
    });
    expect(byName(t, 'orders', 'POST /api/orders').status.code).toBe(ERROR);
    expect(attr(byName(t, 'orders', 'POST /api/orders'), 'error.type')).toBeDefined();
    expect(byName(t, 'gateway', 'POST /orders').status.code).toBe(ERROR);
    // the compensation ran here too
    byName(t, 'orders', 'saga.compensate');
  });

  it('out-of-stock and slow orders: 409 without a charge, and the slow step visible in the timings', async () => {
    const gone = await placeOrder(demo.gatewayUrl, 'out-of-stock');
    expect(gone.status).toBe(409);
    const t1 = await waitForTrace(viewer, gone.traceId!, 7);
    expectComplete(t1);
    expect(t1.spans.some((s) => s.service === 'payments')).toBe(false);

    const slow = await placeOrder(demo.gatewayUrl, 'slow');
    expect(slow.status).toBe(201);
    const t2 = (await waitForTrace(viewer, slow.traceId!, 10)) as ApiTrace & { durationMs: number };
    expect(t2.durationMs).toBeGreaterThanOrEqual(700); // 300 ms at inventory + 400 ms at payments
  });

  it('health checks are ignored by the gateway: no trace is recorded for them', async () => {
    const before = ((await (await fetch(`${viewer.uiUrl}/api/stats`)).json()) as { spansReceived: number })
      .spansReceived;
    const res = await fetch(`${demo.gatewayUrl}/healthz`);
    expect(res.status).toBe(200);
    await new Promise((r) => setTimeout(r, 800));
    const traces = (await (await fetch(`${viewer.uiUrl}/api/traces?route=/healthz`)).json()) as {
      traces: unknown[];
    };
    expect(traces.traces).toHaveLength(0);
    const after = ((await (await fetch(`${viewer.uiUrl}/api/stats`)).json()) as { spansReceived: number })
      .spansReceived;
    expect(after).toBe(before);
  });
});

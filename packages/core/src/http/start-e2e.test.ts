/**
 * The whole tracewire pipeline as a user sets it up: `start()` (tracewire SDK, W3C propagation,
 * batch processor, OTLP/HTTP protobuf exporter) and a real `node:http` server traced through
 * `createHttpServerTracing`, exporting to a real receiver that decodes with the independent decoder.
 */
import { trace } from '@opentelemetry/api';
import { type OtlpReceiver, startOtlpReceiver } from '@tracewire/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { start, type Tracewire } from '../sdk/start.js';
import { serve, type TestServer } from './test-setup.js';

let receiver: OtlpReceiver;
let tracewire: Tracewire;
let server: TestServer;

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  tracewire = start({
    serviceName: 'http-e2e',
    otlp: { url: receiver.tracesUrl },
    outgoing: false,
    shutdownOnSignals: false,
    env: {},
  });
  server = await serve(
    { redactQueryKeys: ['token'], captureHeaders: { request: ['x-request-id', 'authorization'] } },
    (req, res, t) => {
      if (req.url?.startsWith('/orders/')) {
        t.setRoute('/orders/:orderId');
        trace.getTracer('shop').startActiveSpan('charge card', (child) => child.end());
        res.end('ok');
        return;
      }
      if (req.url === '/crash') {
        t.recordError(new SyntaxError('bad json'));
        res.statusCode = 500;
        res.end();
        return;
      }
      res.statusCode = 404;
      res.end();
    },
  );
});

afterAll(async () => {
  await server?.close();
  await tracewire?.shutdown();
  await receiver?.close();
});

describe('start() + createHttpServerTracing + OTLP export', () => {
  it('delivers the server spans a collector expects', async () => {
    const traceId = '5bf92f3577b34da6a3ce929d0e0e4736';
    await fetch(`${server.url}/orders/77?token=abc&view=full`, {
      method: 'PUT',
      body: '{}',
      headers: {
        traceparent: `00-${traceId}-00f067aa0ba902b7-01`,
        'x-request-id': 'req-1',
        authorization: 'Bearer top-secret',
      },
    });
    await fetch(`${server.url}/crash`);
    await fetch(`${server.url}/missing`);
    await tracewire.forceFlush();
    const spans = await receiver.waitFor((s) => s.filter((x) => x.kind === 2).length >= 3);

    const order = spans.find((s) => s.name === 'PUT /orders/:orderId');
    expect(order?.traceId).toBe(traceId);
    expect(order?.parentSpanId).toBe('00f067aa0ba902b7');
    expect(order?.resource['service.name']).toBe('http-e2e');
    expect(order?.resource['telemetry.sdk.name']).toBe('tracewire');
    expect(order?.attributes).toMatchObject({
      'http.request.method': 'PUT',
      'http.route': '/orders/:orderId',
      'url.path': '/orders/77',
      'url.query': 'token=REDACTED&view=full',
      'http.response.status_code': 200,
      'http.request.header.x-request-id': ['req-1'],
    });
    expect(JSON.stringify(order?.attributes)).not.toMatch(/top-secret|abc/);
    expect(order?.status.code).toBe(0);

    const child = spans.find((s) => s.name === 'charge card');
    expect(child?.parentSpanId).toBe(order?.spanId);

    const crash = spans.find((s) => s.attributes['url.path'] === '/crash');
    expect(crash?.name).toBe('GET');
    expect(crash?.status.code).toBe(2);
    expect(crash?.attributes['error.type']).toBe('SyntaxError');
    expect(crash?.events[0]?.name).toBe('exception');

    const missing = spans.find((s) => s.attributes['url.path'] === '/missing');
    expect(missing?.status.code).toBe(0);
    expect(missing?.attributes['http.response.status_code']).toBe(404);
    expect(missing?.attributes).not.toHaveProperty('error.type');
  });
});

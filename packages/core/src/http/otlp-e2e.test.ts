/**
 * End to end: a real request through the HTTP lifecycle, exported by tracewire's OTLP/HTTP exporter
 * to a real receiver that decodes with the independent (generated) decoder. What is asserted is what
 * a collector would see.
 */
import { createRequire } from 'node:module';
import { trace } from '@opentelemetry/api';
import { BasicTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { type OtlpReceiver, startOtlpReceiver } from '@tracewire/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OtlpHttpExporter } from '../export/otlp-http-exporter.js';
import { installGlobalSdk, serve, type TestServer } from './test-setup.js';

const require = createRequire(import.meta.url);
// biome-ignore lint/suspicious/noExplicitAny: generated protobufjs code (the independent decoder)
const root: any = require('otlp-transformer-052/build/src/generated/root.js');
const Request = root.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest;

let receiver: OtlpReceiver;

/** Which AnyValue case each attribute of one span used on the wire (`intValue`, `doubleValue`, ...). */
function wireValueKinds(spanIdHex: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const r of receiver.requests) {
    const msg = Request.decode(r.body);
    for (const rs of msg.resourceSpans ?? [])
      for (const ss of rs.scopeSpans ?? [])
        for (const sp of ss.spans ?? []) {
          if (Buffer.from(sp.spanId).toString('hex') !== spanIdHex) continue;
          for (const a of sp.attributes ?? []) out[a.key] = a.value?.value;
        }
  }
  return out;
}
let server: TestServer;

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  // The official SDK's provider with tracewire's exporter, registered globally: the lifecycle and
  // user code both find it through `@opentelemetry/api`.
  installGlobalSdk(
    new BasicTracerProvider({
      // Cast: sdk/types.ts's Resource.getRawAttributes() is narrower than the official SDK's
      // (RawResourceAttribute allows a Promise value), though the runtime shapes match.
      spanProcessors: [new SimpleSpanProcessor(new OtlpHttpExporter({ url: receiver.tracesUrl }))],
    }),
  );
  server = await serve(
    { captureHeaders: { request: ['x-tenant', 'cookie'], response: ['content-type'] } },
    (req, res, t) => {
      if (req.url?.startsWith('/users/')) {
        t.setRoute('/users/:id');
        trace.getTracer('app').startActiveSpan('load user', (child) => {
          child.end();
        });
        res.setHeader('content-type', 'application/json');
        res.end('{"id":42}');
        return;
      }
      t.recordError(new TypeError('broken'));
      res.statusCode = 500;
      res.end();
    },
  );
});

afterAll(async () => {
  await server?.close();
  await receiver?.close();
});

describe('HTTP server spans through OTLP', () => {
  it('arrive at a collector with kind, name, typed attributes, parent and status', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    await fetch(`${server.url}/users/42?sig=secret&page=2`, {
      headers: {
        traceparent: `00-${traceId}-00f067aa0ba902b7-01`,
        'x-tenant': 'acme',
        cookie: 'session=secret',
        'user-agent': 'e2e/1.0',
      },
    });
    await fetch(`${server.url}/fail`, { method: 'POST', body: 'x' });
    const spans = await receiver.waitFor((s) => s.filter((x) => x.kind === 2).length >= 2);
    const ok = spans.find((s) => s.name === 'GET /users/:id');
    const failed = spans.find((s) => s.name === 'POST');
    expect(ok).toBeDefined();
    expect(failed).toBeDefined();
    if (!ok || !failed) return;

    expect(ok.kind).toBe(2); // SERVER
    expect(ok.traceId).toBe(traceId);
    expect(ok.parentSpanId).toBe('00f067aa0ba902b7');
    expect(ok.status.code).toBe(0); // UNSET
    expect(ok.attributes).toMatchObject({
      'http.request.method': 'GET',
      'http.route': '/users/:id',
      'url.path': '/users/42',
      'url.query': 'sig=REDACTED&page=2',
      'url.scheme': 'http',
      'server.address': '127.0.0.1',
      'server.port': server.port,
      'http.response.status_code': 200,
      'user_agent.original': 'e2e/1.0',
      'http.request.header.x-tenant': ['acme'],
      'http.response.header.content-type': ['application/json'],
    });
    expect(JSON.stringify(ok.attributes)).not.toContain('secret');
    expect(ok.scope.name).toBe('@tracewire/test');
    // On the wire, ports and status codes are OTLP int values, not doubles, and headers are arrays.
    expect(wireValueKinds(ok.spanId)).toMatchObject({
      'http.response.status_code': 'intValue',
      'server.port': 'intValue',
      'network.peer.port': 'intValue',
      'http.request.header.x-tenant': 'arrayValue',
    });

    const child = spans.find((s) => s.name === 'load user');
    expect(child?.parentSpanId).toBe(ok.spanId);
    expect(child?.traceId).toBe(traceId);

    expect(failed.status.code).toBe(2); // ERROR
    expect(failed.attributes['error.type']).toBe('TypeError');
    expect(failed.attributes['http.response.status_code']).toBe(500);
    expect(failed.events.map((e) => e.name)).toEqual(['exception']);
    expect(failed.events[0]?.attributes['exception.type']).toBe('TypeError');
  });
});

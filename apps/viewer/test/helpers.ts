/**
 * Test helpers: spans made with the official SDK (`@opentelemetry/sdk-trace-base`), encoded with
 * the official encoder (`@opentelemetry/otlp-transformer`), and an oracle that says what the viewer
 * must decode from each `ReadableSpan` (the OTLP/JSON mapping of `trace.proto`).
 */
import { request } from 'node:http';
import { gzipSync } from 'node:zlib';
import {
  type Attributes,
  context,
  type HrTime,
  type Link,
  type SpanContext,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';
import { JsonTraceSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import type { AnyValue, KeyValue, SpanRecord } from '../src/model.js';

export function toProto(spans: ReadableSpan[]): Buffer {
  return Buffer.from(ProtobufTraceSerializer.serializeRequest(spans)!);
}

export function toJson(spans: ReadableSpan[]): Buffer {
  return Buffer.from(JsonTraceSerializer.serializeRequest(spans)!);
}

/** Official SDK tracer provider per service, recording into one in-memory exporter. */
export function sdk(service: string, extra: Attributes = {}) {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': service, ...extra }),
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  });
  return { exporter, provider, tracer: provider.getTracer(`${service}-scope`, '1.2.3') };
}

const NS = 1_000_000_000n;
export function hrToNanos(t: HrTime): string {
  return (BigInt(t[0]) * NS + BigInt(t[1])).toString();
}

/** The OTLP AnyValue of an attribute value (common.proto; how the official SDK maps JS values). */
export function anyValueOf(v: unknown): AnyValue {
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  if (typeof v === 'number') return Number.isInteger(v) ? { intValue: String(v) } : { doubleValue: v };
  if (v instanceof Uint8Array) return { bytesValue: Buffer.from(v).toString('base64') };
  if (Array.isArray(v)) return { arrayValue: { values: v.map(anyValueOf) } };
  if (v !== null && typeof v === 'object') {
    return { kvlistValue: { values: Object.entries(v).map(([key, x]) => ({ key, value: anyValueOf(x) })) } };
  }
  return {};
}

export function attrsOf(a: Record<string, unknown> | undefined): KeyValue[] {
  return Object.entries(a ?? {}).map(([key, value]) => ({ key, value: anyValueOf(value) }));
}

/** What the viewer must hold for `s` (flags: W3C flags plus the OTLP "has is_remote" bits). */
export function expectedRecord(s: ReadableSpan): SpanRecord {
  const ctx = s.spanContext();
  const parent = s.parentSpanContext;
  return {
    traceId: ctx.traceId,
    spanId: ctx.spanId,
    parentSpanId: parent?.spanId ?? '',
    traceState: ctx.traceState?.serialize() ?? '',
    flags: (ctx.traceFlags & 0xff) | 0x100 | (parent?.isRemote ? 0x200 : 0),
    name: s.name,
    kind: s.kind + 1,
    startTimeUnixNano: hrToNanos(s.startTime),
    endTimeUnixNano: hrToNanos(s.endTime),
    attributes: attrsOf(s.attributes),
    droppedAttributesCount: s.droppedAttributesCount,
    events: s.events.map((e) => ({
      timeUnixNano: hrToNanos(e.time),
      name: e.name,
      attributes: attrsOf(e.attributes),
      droppedAttributesCount: e.droppedAttributesCount ?? 0,
    })),
    droppedEventsCount: s.droppedEventsCount,
    links: s.links.map((l: Link) => ({
      traceId: l.context.traceId,
      spanId: l.context.spanId,
      traceState: l.context.traceState?.serialize() ?? '',
      attributes: attrsOf(l.attributes),
      droppedAttributesCount: l.droppedAttributesCount ?? 0,
      flags: (l.context.traceFlags & 0xff) | 0x100 | (l.context.isRemote ? 0x200 : 0),
    })),
    droppedLinksCount: s.droppedLinksCount,
    status: { code: s.status.code, message: s.status.message ?? '' },
    resource: {
      attributes: attrsOf(s.resource.attributes as Record<string, unknown>),
      droppedAttributesCount: 0,
      schemaUrl: s.resource.schemaUrl ?? '',
    },
    scope: {
      name: s.instrumentationScope.name,
      version: s.instrumentationScope.version ?? '',
      attributes: attrsOf((s.instrumentationScope as { attributes?: Attributes }).attributes),
      droppedAttributesCount: 0,
      schemaUrl: s.instrumentationScope.schemaUrl ?? '',
    },
  };
}

/** Sorts spans by span id so two decodings can be compared regardless of grouping order. */
export function bySpanId<T extends { spanId: string }>(spans: T[]): T[] {
  return [...spans].sort((a, b) => (a.spanId < b.spanId ? -1 : 1));
}

/**
 * A shop checkout across three services made with the official SDK: gateway (SERVER, root) ->
 * orders (CLIENT + SERVER) -> payments (SERVER, error with an exception event).
 */
export function checkoutTrace(): ReadableSpan[] {
  const gateway = sdk('gateway', { 'deployment.environment.name': 'dev' });
  const orders = sdk('orders');
  const payments = sdk('payments');
  const t0: HrTime = [1_795_000_000, 100_000_000];
  const at = (ms: number): HrTime => {
    const total = BigInt(t0[0]) * NS + BigInt(t0[1]) + BigInt(Math.round(ms * 1e6));
    return [Number(total / NS), Number(total % NS)];
  };
  const root = gateway.tracer.startSpan('POST /orders', {
    kind: SpanKind.SERVER,
    startTime: at(0),
    attributes: { 'http.request.method': 'POST', 'http.route': '/orders', 'http.response.status_code': 502 },
  });
  const under = (span: { spanContext(): SpanContext }) =>
    trace.setSpanContext(context.active(), span.spanContext());
  const call = gateway.tracer.startSpan(
    'POST',
    { kind: SpanKind.CLIENT, startTime: at(2), attributes: { 'server.address': 'orders' } },
    under(root),
  );
  const ordersServer = orders.tracer.startSpan(
    'POST /checkout',
    {
      kind: SpanKind.SERVER,
      startTime: at(3),
      attributes: { 'http.route': '/checkout', 'http.request.method': 'POST' },
    },
    trace.setSpanContext(context.active(), { ...call.spanContext(), isRemote: true }),
  );
  const db = orders.tracer.startSpan(
    'SELECT orders',
    { kind: SpanKind.CLIENT, startTime: at(4), attributes: { 'db.system.name': 'postgresql' } },
    under(ordersServer),
  );
  db.end(at(9));
  const pay = payments.tracer.startSpan(
    'POST /charge',
    { kind: SpanKind.SERVER, startTime: at(10), attributes: { 'http.route': '/charge' } },
    trace.setSpanContext(context.active(), { ...ordersServer.spanContext(), isRemote: true }),
  );
  const err = new TypeError('card declined: insufficient funds');
  err.stack =
    'TypeError: card declined: insufficient funds\n    at charge (payments/src/charge.ts:42:11)\n    at handler (payments/src/app.ts:17:5)';
  pay.recordException(err, at(14));
  pay.setStatus({ code: SpanStatusCode.ERROR, message: 'card declined' });
  pay.setAttribute('error.type', 'TypeError');
  pay.end(at(15));
  ordersServer.setStatus({ code: SpanStatusCode.ERROR });
  ordersServer.end(at(17));
  call.end(at(18));
  root.setStatus({ code: SpanStatusCode.ERROR });
  root.end(at(20));
  return [
    ...gateway.exporter.getFinishedSpans(),
    ...orders.exporter.getFinishedSpans(),
    ...payments.exporter.getFinishedSpans(),
  ];
}

/** Sends a raw HTTP request; resolves with status, headers and body (never rejects on HTTP errors). */
export function send(
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: Buffer | string } = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: init.method ?? 'POST', headers: init.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(init.body);
  });
}

export function postProto(otlpUrl: string, body: Buffer, gzip = false) {
  return send(`${otlpUrl}/v1/traces`, {
    headers: { 'content-type': 'application/x-protobuf', ...(gzip ? { 'content-encoding': 'gzip' } : {}) },
    body: gzip ? gzipSync(body) : body,
  });
}

export function postJson(otlpUrl: string, body: unknown) {
  return send(`${otlpUrl}/v1/traces`, {
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body),
  });
}

// biome-ignore lint/suspicious/noExplicitAny: API responses are checked field by field in the tests
export async function getJson<T = any>(url: string): Promise<T> {
  const r = await send(url, { method: 'GET' });
  if (r.status !== 200) throw new Error(`GET ${url}: ${r.status} ${r.body.toString()}`);
  return JSON.parse(r.body.toString()) as T;
}

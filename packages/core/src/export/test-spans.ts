/**
 * Test fixtures: hand-built ReadableSpan objects (the shared contract in `sdk/types.ts`), so the
 * encoders are tested on every field without depending on tracewire's own SDK. Not exported from
 * the package.
 */
import {
  type Attributes,
  createTraceState,
  type HrTime,
  type Link,
  type SpanContext,
  SpanKind,
  SpanStatusCode,
} from '@opentelemetry/api';
import type { InstrumentationScope, ReadableSpan, Resource, TimedEvent } from '../sdk/types.js';

export function testResource(attributes: Attributes, schemaUrl?: string): Resource {
  const r: Resource = {
    attributes,
    ...(schemaUrl !== undefined ? { schemaUrl } : {}),
    merge: () => r,
    getRawAttributes: () => Object.entries(attributes),
  };
  return r;
}

let counter = 0;
/** A unique, non-zero id of `bytes` bytes: the counter in the last 6 bytes, a fixed pattern before. */
export function hexId(bytes: number, seed = ++counter): string {
  let s = '';
  for (let i = 0; i < bytes - 6; i++) s += ((i * 37 + 11) & 0xff).toString(16).padStart(2, '0');
  return s + seed.toString(16).padStart(12, '0');
}

export interface TestSpanInit {
  name?: string;
  kind?: SpanKind;
  traceId?: string;
  spanId?: string;
  traceFlags?: number;
  traceState?: string;
  parent?: SpanContext;
  startTime?: HrTime;
  endTime?: HrTime;
  attributes?: Attributes;
  events?: TimedEvent[];
  links?: Link[];
  status?: { code: SpanStatusCode; message?: string };
  resource?: Resource;
  scope?: InstrumentationScope;
  droppedAttributesCount?: number;
  droppedEventsCount?: number;
  droppedLinksCount?: number;
}

export const DEFAULT_RESOURCE = testResource({ 'service.name': 'test-svc' });
export const DEFAULT_SCOPE: InstrumentationScope = { name: 'test-scope', version: '1.0.0' };

export function testSpan(init: TestSpanInit = {}): ReadableSpan {
  const ctx: SpanContext = {
    traceId: init.traceId ?? hexId(16),
    spanId: init.spanId ?? hexId(8),
    traceFlags: init.traceFlags ?? 1,
    ...(init.traceState ? { traceState: createTraceState(init.traceState) } : {}),
  };
  const startTime = init.startTime ?? [1_700_000_000, 123_456_789];
  const endTime = init.endTime ?? [1_700_000_000, 987_654_321];
  return {
    name: init.name ?? 'GET /users/:id',
    kind: init.kind ?? SpanKind.SERVER,
    spanContext: () => ctx,
    ...(init.parent ? { parentSpanContext: init.parent } : {}),
    startTime,
    endTime,
    status: init.status ?? { code: SpanStatusCode.UNSET },
    attributes: init.attributes ?? {},
    links: init.links ?? [],
    events: init.events ?? [],
    duration: [endTime[0] - startTime[0], endTime[1] - startTime[1]],
    ended: true,
    resource: init.resource ?? DEFAULT_RESOURCE,
    instrumentationScope: init.scope ?? DEFAULT_SCOPE,
    droppedAttributesCount: init.droppedAttributesCount ?? 0,
    droppedEventsCount: init.droppedEventsCount ?? 0,
    droppedLinksCount: init.droppedLinksCount ?? 0,
  };
}

/** Ten attributes shaped like an HTTP server span's. */
export function httpAttributes(i: number): Attributes {
  return {
    'http.request.method': 'GET',
    'url.path': `/users/${i}`,
    'url.scheme': 'http',
    'http.route': '/users/:id',
    'http.response.status_code': 200,
    'server.address': 'localhost',
    'server.port': 3000,
    'client.address': '127.0.0.1',
    'network.protocol.version': '1.1',
    'user_agent.original': 'autocannon/8.0.0',
  };
}

/** `n` spans named `span-0`, `span-1`, ... with {@link httpAttributes} (and `extra`). */
export function httpSpans(n: number, extra: Attributes = {}): ReadableSpan[] {
  return Array.from({ length: n }, (_, i) =>
    testSpan({ name: `span-${i}`, attributes: { ...httpAttributes(i), ...extra } }),
  );
}

/** One `export()` call as a promise of the result its callback gets. */
export function exportOnce<R>(
  exporter: { export(spans: ReadableSpan[], done: (result: R) => void): void },
  spans: ReadableSpan[],
): Promise<R> {
  return new Promise((resolve) => exporter.export(spans, resolve));
}

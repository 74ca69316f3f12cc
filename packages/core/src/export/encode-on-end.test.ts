import { ROOT_CONTEXT, type Span, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { startOtlpReceiver } from '@tracewire/test-utils';
import { describe, expect, it } from 'vitest';
import { type IdGenerator, RandomIdGenerator } from '../sdk/id-generator.js';
import { TracewireTracerProvider } from '../sdk/tracer-provider.js';
import type { ReadableSpan } from '../sdk/types.js';
import { BatchSpanProcessor } from './batch-processor.js';
import { OtlpHttpExporter } from './otlp-http-exporter.js';
import { encodeTraceRequestFromRecords, encodeTraceRequestView, type SpanRecords } from './otlp-proto.js';
import { type ArenaChunk, SpanArena } from './span-arena.js';
import { httpAttributes, testResource, testSpan } from './test-spans.js';

const resA = testResource({ 'service.name': 'a', 'service.version': '1' });
const resB = testResource({ 'service.name': 'b' }, 'https://opentelemetry.io/schemas/1.26.0');
const scope1 = { name: 'one', version: '1.0.0' };
const scope2 = { name: 'two', schemaUrl: 'https://example.com/s' };

/** Spans that cross chunk boundaries, interleave resources and scopes, and include a huge one. */
function mixedSpans(n: number): ReadableSpan[] {
  const out: ReadableSpan[] = [];
  for (let i = 0; i < n; i++) {
    const huge = i === Math.floor(n / 2);
    out.push(
      testSpan({
        name: `s${i}`,
        kind: i % 3 === 0 ? SpanKind.CLIENT : SpanKind.SERVER,
        resource: i % 97 === 5 ? resB : resA,
        scope: i % 13 === 7 ? scope2 : scope1,
        attributes: huge
          ? { ...httpAttributes(i), blob: 'é'.repeat(400_000) }
          : i % 50 === 0
            ? { ...httpAttributes(i), 'http.response.status_code': 500, extra: [1, 2, 3] }
            : httpAttributes(i),
        ...(i % 11 === 0
          ? {
              status: { code: SpanStatusCode.ERROR, message: 'boom' },
              events: [{ name: 'e', time: [1_700_000_000, 5], attributes: { k: 'v' } }],
            }
          : {}),
      }),
    );
  }
  return out;
}

function toRecords(arena: SpanArena, spans: ReadableSpan[]): SpanRecords {
  const n = spans.length;
  const r = {
    length: n,
    chunk: new Array<ArenaChunk>(n),
    off: new Int32Array(n),
    len: new Int32Array(n),
    resource: spans.map((s) => s.resource),
    scope: spans.map((s) => s.instrumentationScope),
  };
  spans.forEach((s, i) => {
    arena.append(s);
    r.chunk[i] = arena.chunk;
    r.off[i] = arena.off;
    r.len[i] = arena.len;
  });
  return r;
}

describe('encode on end (spans encoded when they end, requests assembled from their bytes)', () => {
  it('assembles exactly the bytes the span encoder writes, across chunks, groups and a huge span', () => {
    const spans = mixedSpans(3000);
    const arena = new SpanArena();
    const records = toRecords(arena, spans);
    expect(new Set(records.chunk).size).toBeGreaterThan(1); // really crossed chunk boundaries
    for (const [from, to] of [
      [0, 3000],
      [0, 512],
      [1499, 1502], // around the huge span
      [2900, 3000],
    ] as const) {
      const direct = Buffer.from(encodeTraceRequestView(spans.slice(from, to)));
      const assembled = Buffer.from(encodeTraceRequestFromRecords(records, from, to));
      expect(assembled.equals(direct)).toBe(true);
    }
  });

  it('writes minimal length prefixes for every request size across the 2-to-3-byte boundary (16 KiB)', () => {
    // One resource and scope (the fast path) and two of each: requests of 1 to 140 spans of
    // ~300 bytes cross 16 KiB, where a ResourceSpans or ScopeSpans length needs a third byte.
    for (const groups of [1, 2]) {
      const spans = Array.from({ length: 140 }, (_, i) =>
        testSpan({
          name: `s${i}`,
          resource: groups === 2 && i % 2 === 1 ? resB : resA,
          scope: groups === 2 && i % 3 === 1 ? scope2 : scope1,
          attributes: httpAttributes(i),
        }),
      );
      const records = toRecords(new SpanArena(), spans);
      for (let n = 1; n <= spans.length; n++) {
        const direct = Buffer.from(encodeTraceRequestView(spans.slice(0, n)));
        const assembled = Buffer.from(encodeTraceRequestFromRecords(records, 0, n));
        expect(assembled.equals(direct), `${groups} group(s), ${n} spans`).toBe(true);
      }
    }
  });

  it('delivers every span with its resource, scope and attributes through the processor', async () => {
    const receiver = await startOtlpReceiver();
    // A low request cap forces split requests over pre-encoded records too.
    const exporter = new OtlpHttpExporter({ url: receiver.tracesUrl, maxRequestBytes: 64 * 1024, env: {} });
    try {
      const p = new BatchSpanProcessor(exporter, { maxQueueSize: 5000, maxExportBatchSize: 512, env: {} });
      const spans = mixedSpans(3000);
      for (const s of spans) p.onEnd(s);
      await p.forceFlush();
      // The huge span is over the 64 KiB cap: dropped and counted, never sent.
      expect(p.stats()).toMatchObject({ accepted: 3000, exported: 2999, failed: 1, queued: 0, exporting: 0 });
      expect(exporter.stats().oversizedSpans).toBe(1);
      const got = receiver.spans();
      expect(got).toHaveLength(2999);
      const byName = new Map(got.map((s) => [s.name, s]));
      for (const i of [0, 5, 7, 11, 50, 102, 2999]) {
        const s = byName.get(`s${i}`)!;
        expect(s, `s${i}`).toBeDefined();
        expect(s.resource['service.name']).toBe(i % 97 === 5 ? 'b' : 'a');
        expect(s.scope.name).toBe(i % 13 === 7 ? 'two' : 'one');
        expect(s.attributes['url.path']).toBe(`/users/${i}`);
        expect(s.attributes['http.response.status_code']).toBe(i % 50 === 0 ? 500 : 200);
        expect(s.kind).toBe((i % 3 === 0 ? SpanKind.CLIENT : SpanKind.SERVER) + 1); // OTLP enum = API + 1
      }
      expect(byName.get('s0')!.attributes.extra).toEqual([1, 2, 3]);
      expect(byName.get('s11')!.status).toMatchObject({ code: SpanStatusCode.ERROR, message: 'boom' });
      expect(byName.get('s1500')).toBeUndefined();
      expect(Math.max(...receiver.requests.map((r) => r.body.length))).toBeLessThanOrEqual(64 * 1024);
      await p.shutdown();
    } finally {
      await exporter.shutdown();
      await receiver.close();
    }
  });

  it('reuses its chunks: memory does not grow with the number of spans exported', async () => {
    const receiver = await startOtlpReceiver();
    const exporter = new OtlpHttpExporter({ url: receiver.tracesUrl, env: {} });
    try {
      const p = new BatchSpanProcessor(exporter, { maxQueueSize: 2048, maxExportBatchSize: 512, env: {} });
      const ids = new Set<string>();
      for (let round = 0; round < 20; round++) {
        for (let i = 0; i < 2000; i++) {
          const s = testSpan({ name: `r${round}`, attributes: httpAttributes(i) });
          ids.add(s.spanContext().spanId);
          p.onEnd(s);
        }
        await p.forceFlush();
      }
      expect(p.stats()).toMatchObject({ accepted: 40_000, exported: 40_000, failed: 0, dropped: 0 });
      // Bytes of recycled chunks are never mixed up: every span arrives once, with its own id.
      const got = receiver.spans();
      expect(got).toHaveLength(40_000);
      expect(new Set(got.map((s) => s.spanId))).toEqual(ids);
      expect(got.filter((s) => s.name === 'r19' && s.attributes['url.path'] === '/users/1999')).toHaveLength(
        1,
      );
      await p.shutdown();
    } finally {
      await exporter.shutdown();
      await receiver.close();
    }
  });

  it('counts, and does not corrupt, a span that ends while another is being encoded', async () => {
    const receiver = await startOtlpReceiver();
    const exporter = new OtlpHttpExporter({ url: receiver.tracesUrl, env: {} });
    try {
      const p = new BatchSpanProcessor(exporter, { env: {} });
      const outer = testSpan({ name: 'outer', attributes: httpAttributes(1) });
      let inner = true;
      // A pathological span whose name getter ends another span (re-entering the encoder).
      const reentrant = Object.create(outer, {
        name: {
          get() {
            if (inner) {
              inner = false;
              p.onEnd(testSpan({ name: 'inner', attributes: httpAttributes(2) }));
            }
            return 'outer';
          },
        },
      }) as ReadableSpan;
      p.onEnd(reentrant);
      p.onEnd(testSpan({ name: 'after', attributes: httpAttributes(3) }));
      await p.forceFlush();
      expect(p.stats()).toMatchObject({ accepted: 3, exported: 2, failed: 1, queued: 0 });
      const got = receiver.spans();
      expect(got.map((s) => s.name)).toEqual(['outer', 'after']);
      expect(got.map((s) => s.attributes['url.path'])).toEqual(['/users/1', '/users/3']);
      await p.shutdown();
    } finally {
      await exporter.shutdown();
      await receiver.close();
    }
  });

  it('still calls the export() of a subclass that filters spans', async () => {
    const receiver = await startOtlpReceiver();
    class OnlyErrors extends OtlpHttpExporter {
      override export(spans: ReadableSpan[], cb: Parameters<OtlpHttpExporter['export']>[1]): void {
        super.export(
          spans.filter((s) => s.status.code === SpanStatusCode.ERROR),
          cb,
        );
      }
    }
    const exporter = new OnlyErrors({ url: receiver.tracesUrl, env: {} });
    try {
      expect(exporter.acceptsRecords).toBe(false);
      const p = new BatchSpanProcessor(exporter, { env: {} });
      for (const s of mixedSpans(30)) p.onEnd(s);
      await p.forceFlush();
      expect(receiver.spans().map((s) => s.name)).toEqual(['s0', 's11', 's22']);
      await p.shutdown();
    } finally {
      await exporter.shutdown();
      await receiver.close();
    }
  });

  it('keeps sending span objects to an exporter using JSON', async () => {
    const receiver = await startOtlpReceiver();
    const exporter = new OtlpHttpExporter({ url: receiver.tracesUrl, protocol: 'http/json', env: {} });
    try {
      expect(exporter.acceptsRecords).toBe(false);
      const p = new BatchSpanProcessor(exporter, { env: {} });
      for (let i = 0; i < 10; i++) p.onEnd(testSpan({ name: `j${i}`, attributes: httpAttributes(i) }));
      await p.forceFlush();
      expect(receiver.spans().map((s) => s.name)).toEqual(Array.from({ length: 10 }, (_, i) => `j${i}`));
      expect(receiver.requests[0]!.headers['content-type']).toContain('json');
      await p.shutdown();
    } finally {
      await exporter.shutdown();
      await receiver.close();
    }
  });
});

describe('ids on the wire (tracewire spans: id bytes copied from the id generator)', () => {
  async function exportWith(
    idGenerator: IdGenerator | undefined,
    run: (p: TracewireTracerProvider) => Span[],
  ) {
    const receiver = await startOtlpReceiver();
    const exporter = new OtlpHttpExporter({ url: receiver.tracesUrl, env: {} });
    const provider = new TracewireTracerProvider({
      spanProcessors: [new BatchSpanProcessor(exporter, { maxQueueSize: 10_000, env: {} })],
      ...(idGenerator ? { idGenerator } : {}),
      env: {},
    });
    try {
      const spans = run(provider);
      await provider.forceFlush();
      return { spans, got: receiver.spans() };
    } finally {
      await provider.shutdown();
      await receiver.close();
    }
  }

  it('exports exactly the trace, span and parent ids the API shows, across many id blocks and out of order', async () => {
    const { spans, got } = await exportWith(undefined, (provider) => {
      const tracer = provider.getTracer('ids');
      const all: Span[] = [];
      const open: Span[] = [];
      // 2,000 traces of a root and two children (~8 KiB of random bytes per 170 ids): roots are kept
      // open while later blocks are taken, and everything ends in a scrambled order.
      for (let i = 0; i < 2000; i++) {
        const root = tracer.startSpan(`root${i}`);
        const ctx = trace.setSpan(ROOT_CONTEXT, root);
        const a = tracer.startSpan(`a${i}`, {}, ctx);
        const b = tracer.startSpan(`b${i}`, {}, trace.setSpan(ctx, a));
        all.push(root, a, b);
        open.push(root, a, b);
        if (i % 7 === 3) {
          for (const s of open.splice(0, open.length - 30).reverse()) s.end();
        }
      }
      for (const s of open) s.end();
      return all;
    });
    expect(got).toHaveLength(spans.length);
    const byName = new Map(got.map((s) => [s.name, s]));
    for (const s of spans) {
      const d = byName.get((s as unknown as { name: string }).name)!;
      const c = s.spanContext();
      expect(d.traceId).toBe(c.traceId);
      expect(d.spanId).toBe(c.spanId);
    }
    const b7 = byName.get('b7')!;
    expect(b7.parentSpanId).toBe(byName.get('a7')!.spanId);
    expect(byName.get('a7')!.parentSpanId).toBe(byName.get('root7')!.spanId);
    expect(new Set(got.map((s) => s.spanId)).size).toBe(spans.length);
  });

  it('exports the ids of a custom generator, also one that extends RandomIdGenerator', async () => {
    class Sequential extends RandomIdGenerator {
      #n = 0;
      override generateSpanId(): string {
        this.#n++;
        return this.#n.toString(16).padStart(16, '0');
      }
      override generateTraceId(): string {
        return `${'ab'.repeat(12)}${(this.#n + 1).toString(16).padStart(8, '0')}`;
      }
    }
    const { spans, got } = await exportWith(new Sequential(), (provider) => {
      const tracer = provider.getTracer('ids');
      return Array.from({ length: 50 }, (_, i) => {
        const s = tracer.startSpan(`s${i}`);
        s.end();
        return s;
      });
    });
    expect(got.map((s) => [s.traceId, s.spanId])).toEqual(
      spans.map((s) => [s.spanContext().traceId, s.spanContext().spanId]),
    );
    expect(got[0]!.spanId).toBe('0000000000000001');
  });
});

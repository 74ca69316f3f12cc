import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startViewer, TraceStore, type Viewer } from '../src/index.js';
import type { SpanRecord } from '../src/model.js';
import { checkoutTrace, getJson, postJson, postProto, send, toProto } from './helpers.js';

const resource = (service: string) => ({
  attributes: [{ key: 'service.name', value: { stringValue: service } }],
  droppedAttributesCount: 0,
  schemaUrl: '',
});
const scope = { name: 's', version: '', attributes: [], droppedAttributesCount: 0, schemaUrl: '' };

let seq = 0;
function span(init: Partial<SpanRecord> & { traceId: string; startMs?: number; durMs?: number }): SpanRecord {
  seq++;
  const start = BigInt(1_795_000_000_000 + (init.startMs ?? 0)) * 1_000_000n;
  const end = start + BigInt(Math.round((init.durMs ?? 1) * 1e6));
  return {
    spanId: seq.toString(16).padStart(16, '0'),
    parentSpanId: '',
    traceState: '',
    flags: 1,
    name: `span ${seq}`,
    kind: 1,
    startTimeUnixNano: start.toString(),
    endTimeUnixNano: end.toString(),
    attributes: [],
    droppedAttributesCount: 0,
    events: [],
    droppedEventsCount: 0,
    links: [],
    droppedLinksCount: 0,
    status: { code: 0, message: '' },
    resource: resource('svc'),
    scope,
    ...init,
  };
}
const tid = (n: number) => n.toString(16).padStart(32, 'a');

describe('TraceStore', () => {
  it('evicts the oldest traces beyond maxSpans and counts them', () => {
    const store = new TraceStore({ maxSpans: 5 });
    for (let t = 1; t <= 4; t++) store.add([span({ traceId: tid(t) }), span({ traceId: tid(t) })]);
    const stats = store.stats();
    expect(stats.spans).toBeLessThanOrEqual(5);
    expect(stats.traces).toBe(2);
    expect(stats.evictedTraces).toBe(2);
    expect(stats.evictedSpans).toBe(4);
    expect(store.get(tid(1))).toBeUndefined();
    expect(store.get(tid(4))?.spanCount).toBe(2);
  });

  it('evicts by estimated bytes too, least recently updated first', () => {
    const big = (t: number) =>
      span({ traceId: tid(t), attributes: [{ key: 'payload', value: { stringValue: 'x'.repeat(10_000) } }] });
    const store = new TraceStore({ maxBytes: 35_000 });
    store.add([big(1)]);
    store.add([big(2)]);
    store.add([big(3)]);
    // Trace 1 gets a new span: it becomes the most recently updated and survives the next eviction.
    store.add([span({ traceId: tid(1) })]);
    store.add([big(4)]);
    const s = store.stats();
    expect(s.bytes).toBeLessThanOrEqual(35_000);
    expect(s.evictedTraces).toBeGreaterThanOrEqual(1);
    expect(store.get(tid(2))).toBeUndefined();
    expect(store.get(tid(1))).toBeDefined();
    expect(store.get(tid(4))).toBeDefined();
  });

  it('assembles a trace from spans arriving in any order, and shows a trace whose root is missing', () => {
    const t = tid(9);
    const root = span({ traceId: t, name: 'GET /', startMs: 0, durMs: 50 });
    const child = span({ traceId: t, parentSpanId: root.spanId, name: 'child', startMs: 5, durMs: 20 });
    const grandchild = span({
      traceId: t,
      parentSpanId: child.spanId,
      name: 'grandchild',
      startMs: 10,
      durMs: 5,
    });
    const store = new TraceStore();
    store.add([grandchild]);
    let d = store.get(t)!;
    expect(d.missingRoot).toBe(true);
    expect(d.rootName).toBe('grandchild');
    expect(d.spans.map((s) => [s.name, s.depth, s.orphan])).toEqual([['grandchild', 0, true]]);
    store.add([child]);
    d = store.get(t)!;
    expect(d.spans.map((s) => [s.name, s.depth, s.orphan])).toEqual([
      ['child', 0, true],
      ['grandchild', 1, false],
    ]);
    store.add([root]);
    d = store.get(t)!;
    expect(d.missingRoot).toBe(false);
    expect(d.rootName).toBe('GET /');
    expect(d.durationMs).toBe(50);
    expect(d.spans.map((s) => [s.name, s.depth, s.orphan, s.startOffsetMs])).toEqual([
      ['GET /', 0, false, 0],
      ['child', 1, false, 5],
      ['grandchild', 2, false, 10],
    ]);
  });

  it('survives parent cycles and replaces a span sent twice', () => {
    const t = tid(10);
    const a = span({ traceId: t, name: 'a' });
    const b = span({ traceId: t, name: 'b', parentSpanId: a.spanId });
    a.parentSpanId = b.spanId;
    const store = new TraceStore();
    store.add([a, b]);
    expect(
      store
        .get(t)!
        .spans.map((s) => s.name)
        .sort(),
    ).toEqual(['a', 'b']);
    store.add([{ ...b, name: 'b again' }]);
    expect(store.get(t)!.spanCount).toBe(2);
    expect(store.stats().spans).toBe(2);
  });

  it('rejects bad options with a TypeError naming the option', () => {
    expect(() => new TraceStore({ maxSpans: 0 })).toThrow(/maxSpans/);
    expect(() => new TraceStore({ maxBytes: -1 })).toThrow(/maxBytes/);
  });
});

describe('viewer over HTTP: out-of-order delivery, API filters, eviction counters', () => {
  let viewer: Viewer;
  beforeAll(async () => {
    viewer = await startViewer({ otlpPort: 0, uiPort: 0, env: {} });
  });
  afterAll(() => viewer.close());

  it('assembles a trace sent child-first over several requests', async () => {
    const spans = checkoutTrace();
    const traceId = spans[0]!.spanContext().traceId;
    const [root] = spans.filter((s) => !s.parentSpanContext);
    const others = spans.filter((s) => s !== root).reverse();
    for (const s of others) expect((await postProto(viewer.otlpUrl, toProto([s]))).status).toBe(200);
    let t = await getJson(`${viewer.uiUrl}/api/traces/${traceId}`);
    expect(t.missingRoot).toBe(true);
    expect(t.spans.filter((s: { orphan: boolean }) => s.orphan)).toHaveLength(1);
    await postProto(viewer.otlpUrl, toProto([root!]));
    t = await getJson(`${viewer.uiUrl}/api/traces/${traceId}`);
    expect(t.missingRoot).toBe(false);
    expect(t.rootName).toBe('POST /orders');
    expect(
      t.spans.map(
        (s: { name: string; depth: number; service: string }) =>
          `${'  '.repeat(s.depth)}${s.name} [${s.service}]`,
      ),
    ).toEqual([
      'POST /orders [gateway]',
      '  POST [gateway]',
      '    POST /checkout [orders]',
      '      SELECT orders [orders]',
      '      POST /charge [payments]',
    ]);
    const charge = t.spans.find((s: { name: string }) => s.name === 'POST /charge');
    expect(charge.events[0].name).toBe('exception');
    expect(charge.events[0].attributes).toContainEqual({
      key: 'exception.stacktrace',
      value: { stringValue: expect.stringContaining('at charge (payments/src/charge.ts:42:11)') },
    });
    expect(charge.resource.attributes).toContainEqual({
      key: 'service.name',
      value: { stringValue: 'payments' },
    });
    expect(charge.startOffsetMs).toBe(10);
    expect(charge.durationMs).toBe(5);
  });

  it('filters the trace list by service, route, status and minimum duration', async () => {
    const ok = {
      resourceSpans: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'catalog' } }] },
          scopeSpans: [
            {
              spans: [
                {
                  traceId: 'cafe0000000000000000000000000001',
                  spanId: 'cafe000000000001',
                  name: 'GET /items',
                  kind: 2,
                  startTimeUnixNano: '1795000000000000000',
                  endTimeUnixNano: '1795000000003000000',
                  attributes: [{ key: 'http.route', value: { stringValue: '/items' } }],
                },
              ],
            },
          ],
        },
      ],
    };
    expect((await postJson(viewer.otlpUrl, ok)).status).toBe(200);
    await postProto(viewer.otlpUrl, toProto(checkoutTrace()));
    const q = async (query: string) =>
      (await getJson(`${viewer.uiUrl}/api/traces?${query}`)).traces.map(
        (t: { rootName: string }) => t.rootName,
      );
    expect(await q('service=catalog')).toEqual(['GET /items']);
    expect(await q('route=%2Fitems')).toEqual(['GET /items']);
    expect(new Set(await q('route=%2Fcharge'))).toEqual(new Set(['POST /orders']));
    expect(await q('status=ok&service=catalog')).toEqual(['GET /items']);
    expect(await q('status=error&service=catalog')).toEqual([]);
    expect((await q('status=error')).every((n: string) => n === 'POST /orders')).toBe(true);
    expect(await q('minDurationMs=10&service=catalog')).toEqual([]);
    expect(await q('minDurationMs=2.5&service=catalog')).toEqual(['GET /items']);
    expect(await q('minDurationMs=19&service=payments')).toContain('POST /orders');
    expect(await q('limit=1')).toHaveLength(1);
    const list = (await getJson(`${viewer.uiUrl}/api/traces?service=gateway`)).traces[0];
    expect(list).toMatchObject({
      rootService: 'gateway',
      services: ['gateway', 'orders', 'payments'],
      spanCount: 5,
      errorCount: 3,
      durationMs: 20,
      missingRoot: false,
    });
    expect((await getJson(`${viewer.uiUrl}/api/services`)).services).toEqual(
      expect.arrayContaining(['catalog', 'gateway', 'orders', 'payments']),
    );
    const bad = await send(`${viewer.uiUrl}/api/traces?status=maybe`, { method: 'GET' });
    expect(bad.status).toBe(400);
    expect((await send(`${viewer.uiUrl}/api/traces/${'0'.repeat(31)}1`, { method: 'GET' })).status).toBe(404);
  });

  it('refuses foreign origins and DNS-rebinding Host headers on the UI and API, without CORS headers', async () => {
    const evil = await send(`${viewer.uiUrl}/api/traces`, {
      method: 'GET',
      headers: { origin: 'http://evil.example' },
    });
    expect(evil.status).toBe(403);
    expect(evil.headers['access-control-allow-origin']).toBeUndefined();
    const port = new URL(viewer.uiUrl).port;
    const rebound = await send(`${viewer.uiUrl}/api/traces`, {
      method: 'GET',
      headers: { host: `evil.example:${port}` },
    });
    expect(rebound.status).toBe(403);
    const local = await send(`${viewer.uiUrl}/`, { method: 'GET', headers: { host: `localhost:${port}` } });
    expect(local.status).toBe(200);
    expect(local.headers['content-security-policy']).toMatch(/default-src 'none'/);
  });
});

describe('eviction counters through the API', () => {
  it('reports evicted traces in /api/stats when maxSpans is reached', async () => {
    const viewer = await startViewer({ otlpPort: 0, uiPort: 0, maxSpans: 12, env: {} });
    try {
      for (let i = 0; i < 4; i++) await postProto(viewer.otlpUrl, toProto(checkoutTrace()));
      const stats = await getJson(`${viewer.uiUrl}/api/stats`);
      expect(stats).toMatchObject({
        spansReceived: 20,
        spans: 10,
        traces: 2,
        evictedTraces: 2,
        evictedSpans: 10,
      });
      expect((await getJson(`${viewer.uiUrl}/api/traces`)).traces).toHaveLength(2);
    } finally {
      await viewer.close();
    }
  });
});

describe('persistence (--file)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tracewire-viewer-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('keeps traces across a restart (saved on close, loaded at start, written atomically)', async () => {
    const file = join(dir, 'nested', 'traces.json');
    const spans = checkoutTrace();
    const traceId = spans[0]!.spanContext().traceId;
    const first = await startViewer({ otlpPort: 0, uiPort: 0, file, env: {} });
    await postProto(first.otlpUrl, toProto(spans));
    const before = await getJson(`${first.uiUrl}/api/traces/${traceId}`);
    await first.close();
    const saved = JSON.parse(await readFile(file, 'utf8'));
    expect(saved.format).toBe('tracewire-viewer/1');

    const second = await startViewer({ otlpPort: 0, uiPort: 0, file, env: {} });
    try {
      const after = await getJson(`${second.uiUrl}/api/traces/${traceId}`);
      expect(after).toEqual(before);
      expect(after.spans[0].startTimeUnixNano).toBe(before.spans[0].startTimeUnixNano);
    } finally {
      await second.close();
    }
  });

  it('saves periodically while running', async () => {
    const file = join(dir, 'periodic.json');
    const viewer = await startViewer({ otlpPort: 0, uiPort: 0, file, saveIntervalMs: 50, env: {} });
    try {
      await postProto(viewer.otlpUrl, toProto(checkoutTrace()));
      let saved: { spans: unknown[] } | undefined;
      for (let i = 0; i < 100 && saved === undefined; i++) {
        await new Promise((r) => setTimeout(r, 20));
        saved = await readFile(file, 'utf8').then(JSON.parse, () => undefined);
      }
      expect(saved?.spans).toHaveLength(5);
    } finally {
      await viewer.close();
    }
  });

  it('moves an unreadable file aside with a warning and starts empty', async () => {
    const file = join(dir, 'broken.json');
    await writeFile(file, '{"format":"something else"}');
    const warnings: string[] = [];
    const viewer = await startViewer({
      otlpPort: 0,
      uiPort: 0,
      file,
      env: {},
      warn: (m) => warnings.push(m),
    });
    await viewer.close();
    expect(warnings.join()).toMatch(/not a viewer file.*moved to .*broken\.json\.unreadable-/);
  });
});

import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startViewer, type Viewer } from '../src/index.js';
import { checkoutTrace, getJson, postJson, postProto, send, toJson, toProto } from './helpers.js';

/** Decodes a protobuf `google.rpc.Status { int32 code = 1; string message = 2; }` by hand. */
function decodeStatus(body: Buffer): { code: number; message: string } {
  let i = 0;
  let code = 0;
  let message = '';
  while (i < body.length) {
    const tag = body[i++]!;
    let n = 0;
    let shift = 0;
    let b: number;
    do {
      b = body[i++]!;
      n += (b & 0x7f) * 2 ** shift;
      shift += 7;
    } while (b & 0x80);
    if (tag === 0x08) code = n;
    else if (tag === 0x12) {
      message = body.toString('utf8', i, i + n);
      i += n;
    }
  }
  return { code, message };
}

let viewer: Viewer;
let otlp: string;

beforeAll(async () => {
  viewer = await startViewer({ otlpPort: 0, uiPort: 0, maxRequestBytes: 64 * 1024, env: {} });
  otlp = viewer.otlpUrl;
});
afterAll(() => viewer.close());

describe('OTLP/HTTP receiver: success', () => {
  it('accepts protobuf and answers 200 with an empty protobuf ExportTraceServiceResponse', async () => {
    const spans = checkoutTrace();
    const r = await postProto(otlp, toProto(spans));
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('application/x-protobuf');
    expect(r.body.length).toBe(0);
    const trace = await getJson(`${viewer.uiUrl}/api/traces/${spans[0]!.spanContext().traceId}`);
    expect(trace.spanCount).toBe(spans.length);
  });

  it('accepts JSON and answers 200 with {} in JSON', async () => {
    const spans = checkoutTrace();
    const r = await postJson(otlp, toJson(spans));
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('application/json');
    expect(JSON.parse(r.body.toString())).toEqual({});
    const trace = await getJson(`${viewer.uiUrl}/api/traces/${spans[0]!.spanContext().traceId}`);
    expect(trace.services).toEqual(['gateway', 'orders', 'payments']);
  });

  it('accepts gzip bodies (Content-Encoding: gzip) in both encodings', async () => {
    const a = checkoutTrace();
    expect((await postProto(otlp, toProto(a), true)).status).toBe(200);
    const b = checkoutTrace();
    const r = await send(`${otlp}/v1/traces`, {
      headers: { 'content-type': 'application/json; charset=utf-8', 'content-encoding': 'gzip' },
      body: gzipSync(toJson(b)),
    });
    expect(r.status).toBe(200);
    for (const t of [a, b]) {
      const trace = await getJson(`${viewer.uiUrl}/api/traces/${t[0]!.spanContext().traceId}`);
      expect(trace.spanCount).toBe(t.length);
    }
  });

  it('answers a partial success with rejected_spans and error_message when spans have invalid ids', async () => {
    const spans = checkoutTrace();
    const json = JSON.parse(toJson(spans).toString());
    const list = json.resourceSpans[0].scopeSpans[0].spans;
    list.push({ ...list[0], spanId: '0000000000000000' });
    const before = viewer.store.stats().spansRejected;
    const r = await postJson(otlp, json);
    expect(r.status).toBe(200);
    const body = JSON.parse(r.body.toString());
    expect(body.partialSuccess.rejectedSpans).toBe('1');
    expect(body.partialSuccess.errorMessage).toMatch(/invalid span_id/);
    expect(viewer.store.stats().spansRejected).toBe(before + 1);

    // Protobuf: the same answer, protobuf-encoded (field 1 { rejected_spans = 1, error_message = 2 }).
    const bad = checkoutTrace();
    const proto = toProto(bad);
    const id = Buffer.from(bad[0]!.spanContext().spanId, 'hex');
    const at = proto.indexOf(id);
    proto.fill(0, at, at + 8);
    const rp = await postProto(otlp, proto);
    expect(rp.status).toBe(200);
    expect(rp.body[0]).toBe(0x0a);
    const inner = rp.body.subarray(2);
    expect(inner[0]).toBe(0x08);
    expect(inner[1]).toBe(1);
    expect(inner.subarray(4).toString()).toMatch(/invalid span_id/);
  });
});

describe('OTLP/HTTP receiver: refusals', () => {
  it('answers 400 with a google.rpc.Status in the request encoding for malformed protobuf and JSON', async () => {
    const r = await postProto(otlp, Buffer.from([0x0a, 0x7f, 0x01]));
    expect(r.status).toBe(400);
    expect(r.headers['content-type']).toBe('application/x-protobuf');
    const status = decodeStatus(r.body);
    expect(status.code).toBe(3);
    expect(status.message).toMatch(/malformed ExportTraceServiceRequest/);

    const j = await postJson(otlp, '{"resourceSpans": [');
    expect(j.status).toBe(400);
    expect(JSON.parse(j.body.toString())).toMatchObject({
      code: 3,
      message: expect.stringMatching(/malformed/),
    });

    const g = await send(`${otlp}/v1/traces`, {
      headers: { 'content-type': 'application/x-protobuf', 'content-encoding': 'gzip' },
      body: Buffer.from('not gzip at all'),
    });
    expect(g.status).toBe(400);
  });

  it('answers random bodies with 200 or 400, never a crash, and keeps serving (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), fc.boolean(), async (bytes, json) => {
        const r = json ? await postJson(otlp, Buffer.from(bytes)) : await postProto(otlp, Buffer.from(bytes));
        expect([200, 400]).toContain(r.status);
      }),
      { numRuns: 200 },
    );
    expect((await postProto(otlp, toProto(checkoutTrace()))).status).toBe(200);
  });

  it('answers 413 over the size cap: declared length, streamed body, and a gzip bomb', async () => {
    const big = Buffer.alloc(100 * 1024, 1);
    const r = await postProto(otlp, big);
    expect(r.status).toBe(413);
    expect(decodeStatus(r.body).message).toMatch(/over 65536 bytes/);

    // No Content-Length (chunked): the cap is enforced while reading.
    const chunked = await send(`${otlp}/v1/traces`, {
      headers: { 'content-type': 'application/x-protobuf', 'transfer-encoding': 'chunked' },
      body: big,
    });
    expect(chunked.status).toBe(413);

    // 50 MiB of zeros compress to ~50 KB, under the cap: it must be stopped while decompressing.
    const bomb = gzipSync(Buffer.alloc(50 * 1024 * 1024));
    expect(bomb.length).toBeLessThan(64 * 1024);
    const before = process.memoryUsage().rss;
    const rb = await send(`${otlp}/v1/traces`, {
      headers: { 'content-type': 'application/x-protobuf', 'content-encoding': 'gzip' },
      body: bomb,
    });
    expect(rb.status).toBe(413);
    expect(process.memoryUsage().rss - before).toBeLessThan(40 * 1024 * 1024);
  });

  it('answers 415 for other content types and content encodings, 405 for other methods, 404 for other paths', async () => {
    const t = await send(`${otlp}/v1/traces`, { headers: { 'content-type': 'text/plain' }, body: 'hello' });
    expect(t.status).toBe(415);
    expect(JSON.parse(t.body.toString()).message).toMatch(/application\/x-protobuf or application\/json/);
    const e = await send(`${otlp}/v1/traces`, {
      headers: { 'content-type': 'application/json', 'content-encoding': 'br' },
      body: '{}',
    });
    expect(e.status).toBe(415);
    const m = await send(`${otlp}/v1/traces`, { method: 'GET' });
    expect(m.status).toBe(405);
    expect(m.headers.allow).toBe('POST');
    const p = await send(`${otlp}/v1/metrics`, {
      headers: { 'content-type': 'application/x-protobuf' },
      body: Buffer.alloc(0),
    });
    expect(p.status).toBe(404);
  });

  it('refuses cross-origin browser requests (CSRF) and never answers a CORS preflight permissively', async () => {
    const spans = checkoutTrace();
    const evil = await send(`${otlp}/v1/traces`, {
      headers: { 'content-type': 'application/json', origin: 'http://evil.example' },
      body: toJson(spans),
    });
    expect(evil.status).toBe(403);
    expect(evil.headers['access-control-allow-origin']).toBeUndefined();
    // Nothing from that request reached the store.
    const missing = await send(`${viewer.uiUrl}/api/traces/${spans[0]!.spanContext().traceId}`, {
      method: 'GET',
    });
    expect(missing.status).toBe(404);

    // A "simple" cross-site form post carries no Origin in some browsers, but Sec-Fetch-Site.
    const form = await send(`${otlp}/v1/traces`, {
      headers: { 'content-type': 'application/json', 'sec-fetch-site': 'cross-site' },
      body: toJson(spans),
    });
    expect(form.status).toBe(403);

    const preflight = await send(`${otlp}/v1/traces`, {
      method: 'OPTIONS',
      headers: {
        origin: 'http://evil.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type',
      },
    });
    expect(preflight.status).toBeGreaterThanOrEqual(400);
    expect(preflight.headers['access-control-allow-origin']).toBeUndefined();
    expect(preflight.headers['access-control-allow-methods']).toBeUndefined();

    // The viewer's own origin is allowed (same-origin tooling), and so are clients without Origin.
    const own = await send(`${otlp}/v1/traces`, {
      headers: { 'content-type': 'application/json', origin: viewer.uiUrl },
      body: toJson(spans),
    });
    expect(own.status).toBe(200);
  });
});

describe('OTLP/HTTP receiver: store wiring', () => {
  it('counts requests, received and rejected spans in /api/stats', async () => {
    const before = await getJson(`${viewer.uiUrl}/api/stats`);
    const spans = checkoutTrace();
    await postProto(otlp, toProto(spans));
    const after = await getJson(`${viewer.uiUrl}/api/stats`);
    expect(after.spansReceived - before.spansReceived).toBe(spans.length);
    expect(after.requests - before.requests).toBe(1);
    expect(after.traces).toBeGreaterThan(0);
    expect(after.otlpUrl).toBe(otlp);
  });
});

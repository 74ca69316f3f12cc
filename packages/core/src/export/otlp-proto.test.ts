import { type Attributes, SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { decodeJson, decodeProtobuf, decodeSpanFlags } from '@tracewire/test-utils';
import { describe, expect, it } from 'vitest';
import type { ReadableSpan } from '../sdk/types.js';
import { encodeTraceRequestJson } from './otlp-json.js';
import {
  decodePartialSuccess,
  encodeSpanRecord,
  encodeTraceRequest,
  encodeTraceRequestFromRecords,
  encodeTraceRequestView,
} from './otlp-proto.js';
import { hexId, httpAttributes, testResource, testSpan } from './test-spans.js';

const NS = 1_000_000_000n;

/** Every field of one rich span, checked through both encoders and the independent decoders. */
function richSpans(): ReadableSpan[] {
  const traceId = '0af7651916cd43dd8448eb211c80319c';
  const parent = { traceId, spanId: 'b7ad6b7169203331', traceFlags: 1, isRemote: true };
  return [
    testSpan({
      name: 'GET /users/:id ✓ 日本語 😀',
      kind: SpanKind.SERVER,
      traceId,
      spanId: '00f067aa0ba902b7',
      traceFlags: 0x03,
      traceState: 'rojo=00f067aa0ba902b7,congo=t61rcWkgMzE',
      parent,
      // 2^53 ns is ~104 days after the epoch; these are exact only with 64-bit integer math.
      startTime: [1_763_800_000, 999_999_999],
      endTime: [4_294_967_296 * 4, 1],
      attributes: {
        str: 'hello',
        empty: '',
        unicode: 'Grüße, 世界 🌍',
        lone: 'a\ud800b',
        long: 'x'.repeat(300) + 'é'.repeat(100),
        int: 42,
        zero: 0,
        neg: -1,
        negBig: -9_007_199_254_740_991,
        big: 2 ** 62,
        maxSafe: Number.MAX_SAFE_INTEGER,
        int32edge: 2 ** 31,
        dbl: 1234.5678,
        negDbl: -0.5,
        huge: 2 ** 64,
        bool: true,
        boolFalse: false,
        strArr: ['a', '', 'ü'],
        intArr: [1, -2, 2 ** 40],
        dblArr: [1.5, -2.25],
        boolArr: [true, false],
        emptyArr: [],
        nullInArr: ['a', null, 'b'],
      },
      droppedAttributesCount: 3,
      events: [
        { name: 'exception', time: [1_763_800_001, 5], attributes: { 'exception.type': 'TypeError' } },
        { name: 'no-attrs', time: [1_763_800_002, 0], droppedAttributesCount: 2 },
      ],
      droppedEventsCount: 4,
      links: [
        {
          context: {
            traceId: 'ffffffffffffffffffffffffffffffff',
            spanId: '0000000000000001',
            traceFlags: 1,
            isRemote: true,
            traceState: createTs('a=b'),
          },
          attributes: { 'link.kind': 'follows', n: 7 },
          droppedAttributesCount: 1,
        },
        { context: { traceId: hexId(16), spanId: hexId(8), traceFlags: 0 } },
      ],
      droppedLinksCount: 5,
      status: { code: SpanStatusCode.ERROR, message: 'boom ✗' },
    }),
    testSpan({ name: '', kind: SpanKind.INTERNAL, attributes: {} }),
    testSpan({ name: 'client', kind: SpanKind.CLIENT, status: { code: SpanStatusCode.OK } }),
    testSpan({ name: 'producer', kind: SpanKind.PRODUCER }),
    testSpan({ name: 'consumer', kind: SpanKind.CONSUMER }),
  ];
}

function createTs(s: string) {
  // local helper so the fixture stays readable
  return testSpan({ traceState: s }).spanContext().traceState!;
}

function checkRich(decoded: ReturnType<typeof decodeProtobuf>, lone = 'a\ufffdb') {
  expect(decoded).toHaveLength(5);
  const s = decoded[0]!;
  expect(s.name).toBe('GET /users/:id ✓ 日本語 😀');
  expect(s.kind).toBe(2);
  expect(s.traceId).toBe('0af7651916cd43dd8448eb211c80319c');
  expect(s.spanId).toBe('00f067aa0ba902b7');
  expect(s.parentSpanId).toBe('b7ad6b7169203331');
  expect(s.traceState).toBe('rojo=00f067aa0ba902b7,congo=t61rcWkgMzE');
  expect(s.startTimeUnixNano).toBe(1_763_800_000n * NS + 999_999_999n);
  expect(s.endTimeUnixNano).toBe(4_294_967_296n * 4n * NS + 1n);
  expect(s.attributes).toEqual({
    str: 'hello',
    empty: '',
    unicode: 'Grüße, 世界 🌍',
    lone,
    long: 'x'.repeat(300) + 'é'.repeat(100),
    int: 42,
    zero: 0,
    neg: -1,
    negBig: -9_007_199_254_740_991,
    big: 2n ** 62n,
    maxSafe: Number.MAX_SAFE_INTEGER,
    int32edge: 2 ** 31,
    dbl: 1234.5678,
    negDbl: -0.5,
    huge: 2 ** 64,
    bool: true,
    boolFalse: false,
    strArr: ['a', '', 'ü'],
    intArr: [1, -2, 2 ** 40],
    dblArr: [1.5, -2.25],
    boolArr: [true, false],
    emptyArr: [],
    nullInArr: ['a', null, 'b'],
  });
  expect(s.droppedAttributesCount).toBe(3);
  expect(s.events).toEqual([
    {
      name: 'exception',
      timeUnixNano: 1_763_800_001n * NS + 5n,
      attributes: { 'exception.type': 'TypeError' },
      droppedAttributesCount: 0,
    },
    { name: 'no-attrs', timeUnixNano: 1_763_800_002n * NS, attributes: {}, droppedAttributesCount: 2 },
  ]);
  expect(s.droppedEventsCount).toBe(4);
  expect(s.links).toHaveLength(2);
  expect(s.links[0]).toMatchObject({
    traceId: 'ffffffffffffffffffffffffffffffff',
    spanId: '0000000000000001',
    traceState: 'a=b',
    attributes: { 'link.kind': 'follows', n: 7 },
  });
  expect(s.droppedLinksCount).toBe(5);
  expect(s.status).toEqual({ code: 2, message: 'boom ✗' });
  expect(s.resource).toEqual({ 'service.name': 'test-svc' });
  expect(s.scope).toMatchObject({ name: 'test-scope', version: '1.0.0' });
  expect(decoded.slice(1).map((d) => [d.name, d.kind, d.status.code])).toEqual([
    ['', 1, 0],
    ['client', 3, 1],
    ['producer', 4, 0],
    ['consumer', 5, 0],
  ]);
  expect(decoded[1]!.parentSpanId).toBe('');
  expect(decoded[1]!.traceState).toBe('');
}

describe('OTLP protobuf encoder', () => {
  it('round-trips every span field through the independent decoder', () => {
    const body = encodeTraceRequest(richSpans());
    checkRich(decodeProtobuf(body));
  });

  it('writes span and link flags: W3C flags in bits 0-7, parent/link remoteness in bits 8-9', () => {
    const parentLocal = { traceId: hexId(16), spanId: hexId(8), traceFlags: 1, isRemote: false };
    const body = encodeTraceRequest([
      ...richSpans().slice(0, 2),
      testSpan({ traceFlags: 1, parent: parentLocal }),
    ]);
    const flags = decodeSpanFlags(body);
    expect(flags[0]).toEqual({ flags: 0x03 | 0x100 | 0x200, linkFlags: [0x01 | 0x100 | 0x200, 0x100] });
    expect(flags[1]).toEqual({ flags: 0x01 | 0x100, linkFlags: [] });
    expect(flags[2]).toEqual({ flags: 0x01 | 0x100, linkFlags: [] });
  });

  it('groups by resource, then by scope, across many resources and scopes', () => {
    const resA = testResource({ 'service.name': 'a', n: 1 }, 'https://opentelemetry.io/schemas/1.26.0');
    const resB = testResource({ 'service.name': 'b' });
    const scopes = [
      { name: 's1', version: '1' },
      { name: 's2' },
      { name: 's1', version: '1' }, // a different object with the same identity: same ScopeSpans
      { name: 's3', version: '3', schemaUrl: 'https://example.com/s3' },
    ];
    const spans: ReadableSpan[] = [];
    for (let i = 0; i < 40; i++) {
      spans.push(testSpan({ name: `span-${i}`, resource: i % 3 ? resA : resB, scope: scopes[i % 4]! }));
    }
    const decoded = decodeProtobuf(encodeTraceRequest(spans));
    expect(decoded).toHaveLength(40);
    expect(new Set(decoded.map((d) => d.name)).size).toBe(40);
    for (const d of decoded) {
      const i = Number(d.name.slice(5));
      expect(d.resource['service.name']).toBe(i % 3 ? 'a' : 'b');
      expect(d.scope.name).toBe(scopes[i % 4]!.name);
      if (i % 4 === 3) expect(d.schemaUrl).toBe('https://example.com/s3');
    }
    // Spans of one resource are contiguous, and one scope identity appears once per resource.
    const order = decoded.map((d) => `${d.resource['service.name']}|${d.scope.name}`);
    const runs = order.filter((v, i) => i === 0 || order[i - 1] !== v);
    // First-appearance order: resB (span 0) then resA (span 1); scopes by first appearance within each.
    expect(runs).toEqual(['b|s1', 'b|s3', 'b|s2', 'a|s2', 'a|s1', 'a|s3']);
  });

  it('encodes thousands of spans with large values (buffer growth and long lengths)', () => {
    const spans: ReadableSpan[] = [];
    for (let i = 0; i < 3000; i++) {
      spans.push(
        testSpan({
          name: `n${i}`,
          attributes: { ...httpAttributes(i), blob: 'z'.repeat(i % 7 === 0 ? 20_000 : 10) },
        }),
      );
    }
    const body = encodeTraceRequest(spans);
    expect(body.length).toBeGreaterThan(256 * 1024);
    const decoded = decodeProtobuf(body);
    expect(decoded).toHaveLength(3000);
    expect(decoded[2999]!.attributes['url.path']).toBe('/users/2999');
    expect(decoded[0]!.attributes.blob).toBe('z'.repeat(20_000));
    // The view API reuses its buffer; a second encode must not be affected by the first.
    const small = encodeTraceRequestView([testSpan({ name: 'again' })]);
    expect(decodeProtobuf(small)[0]!.name).toBe('again');
  });

  it('decodes what the official serializer decodes for spans from the official SDK', () => {
    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': 'official', 'deployment.environment': 'test' }),
      spanProcessors: [new SimpleSpanProcessor(exporter)],
    });
    const tracer = provider.getTracer('lib', '2.0.0');
    tracer.startActiveSpan('parent', (p) => {
      const c = tracer.startSpan('child', { kind: SpanKind.CLIENT, attributes: httpAttributes(1) });
      c.addEvent('evt', { a: 1.5 });
      c.setStatus({ code: SpanStatusCode.ERROR, message: 'x' });
      c.end();
      p.end();
    });
    const spans = exporter.getFinishedSpans() as unknown as ReadableSpan[];
    expect(spans).toHaveLength(2);
    const ours = decodeProtobuf(encodeTraceRequest(spans));
    // biome-ignore lint/suspicious/noExplicitAny: official serializer types are its own
    const official = decodeProtobuf(ProtobufTraceSerializer.serializeRequest(spans as any)!);
    expect(ours).toEqual(official);
    expect(decodeSpanFlags(encodeTraceRequest(spans))).toEqual(
      // biome-ignore lint/suspicious/noExplicitAny: official serializer types are its own
      decodeSpanFlags(ProtobufTraceSerializer.serializeRequest(spans as any)!),
    );
  });

  it('keeps attribute values right when values repeat, alternate and change types across encodes', () => {
    const cycle = ['GET', 'POST', 200, 200.5, true, 'GET', '', -7];
    for (let round = 0; round < 3; round++) {
      const batch = Array.from({ length: 300 }, (_, i) =>
        testSpan({
          name: `r${round}-${i}`,
          attributes: { k: cycle[(i + round) % cycle.length]!, n: i, same: 'x' },
        }),
      );
      const decoded = decodeProtobuf(encodeTraceRequest(batch));
      decoded.forEach((d, i) => {
        expect(d.attributes).toEqual({ k: cycle[(i + round) % cycle.length], n: i, same: 'x' });
      });
    }
  });

  it('copies repeated attributes right in large spans, with key orders and values changing', () => {
    const pad = 'p'.repeat(100); // spans over 128 bytes: the attribute cache copies from earlier spans
    const expected: Record<string, unknown>[] = [];
    const batch = Array.from({ length: 500 }, (_, i) => {
      const attrs: Record<string, string | number | boolean> =
        i % 3 === 0
          ? { ...httpAttributes(i), pad, flag: i % 2 === 0 }
          : { pad, 'http.route': i % 5 ? '/a' : '/b', ...httpAttributes(i % 7), n: i };
      expected.push(attrs);
      return testSpan({ name: `big-${i}`, attributes: attrs });
    });
    for (let round = 0; round < 2; round++) {
      const decoded = decodeProtobuf(encodeTraceRequest(batch));
      expect(decoded.map((d) => d.attributes)).toEqual(expected);
    }
  });

  it('writes names and keys it has seen before right: non-ASCII, long, and more than it keeps', () => {
    // Span names and attribute keys are encoded once and then copied; a table that is full, or
    // cleared after many misses, must not change a byte of what is decoded.
    const longKey = `k.${'ü'.repeat(70)}`; // over 127 bytes: a two-byte length
    // Names `n-…` are new every round: over 4 rounds there are more misses than the table takes
    // before it starts over, so full, cleared and refilled tables are all exercised.
    const names = (i: number, round: number) =>
      i % 4 === 0
        ? 'GET /users/:id ✓ 日本語 😀'
        : i % 2 === 1
          ? `n-${round}-${i}`
          : `${'x'.repeat(140)}-${i % 3}`;
    for (let round = 0; round < 4; round++) {
      const batch = Array.from({ length: 6000 }, (_, i) =>
        testSpan({
          name: names(i, round),
          attributes: { 'clé.été': `v${i}`, [longKey]: i % 3, [`dyn.${i % 600}`]: i },
        }),
      );
      const decoded = decodeProtobuf(encodeTraceRequest(batch));
      decoded.forEach((d, i) => {
        expect(d.name).toBe(names(i, round));
        expect(d.attributes).toEqual({ 'clé.été': `v${i}`, [longKey]: i % 3, [`dyn.${i % 600}`]: i });
      });
    }
  });

  it('copies seen names and keys of every length exactly, into records written back to back', () => {
    // Names and keys seen before are copied four bytes at a time: lengths 1 to 13 cover every
    // remainder, and a 141-byte one has a two-byte length. Round 0 encodes them, rounds 1 and 2
    // copy them (the values change, so each key is copied with a new value after it).
    const texts = [...Array.from({ length: 13 }, (_, i) => 'abcdefghijklm'.slice(0, i + 1)), 'é'.repeat(70)];
    const resource = testResource({ 'service.name': 'words' });
    const scope = { name: 'words' };
    const MARK = 0xa5;
    const target = Buffer.alloc(256 * 1024, MARK);
    const off: number[] = [];
    const len: number[] = [];
    const expected: { name: string; attributes: Record<string, unknown> }[] = [];
    let at = 3;
    for (let round = 0; round < 3; round++) {
      texts.forEach((t, i) => {
        const attributes = { [t]: round * 100 + i, [`${t}.s`]: `v${round}-${i}` };
        expected.push({ name: t, attributes });
        const end = encodeSpanRecord(testSpan({ name: t, resource, scope, attributes }), target, at);
        off.push(at);
        len.push(end - at);
        at = end; // as the span arena writes them
      });
    }
    // Nothing before the first record was written. Each later record starts where the last one
    // ended, so a record that wrote before its start would show below as a wrong earlier span.
    expect([...target.subarray(0, 3)]).toEqual([MARK, MARK, MARK]);
    const n = off.length;
    const request = encodeTraceRequestFromRecords(
      {
        length: n,
        chunk: Array.from({ length: n }, () => ({ buf: target })),
        off: Int32Array.from(off),
        len: Int32Array.from(len),
        resource: Array.from({ length: n }, () => resource),
        scope: Array.from({ length: n }, () => scope),
      },
      0,
      n,
    );
    expect(
      decodeProtobuf(Buffer.from(request)).map((d) => ({ name: d.name, attributes: d.attributes })),
    ).toEqual(expected);
  });

  it("writes HTTP server spans' attributes exactly, whether they repeat, change, or are not the usual set", () => {
    // The attributes tracewire's HTTP lifecycle sets take a path of their own in the encoder (read
    // by name, the repeating ones compared with the previous span's and copied). Each span changes
    // some of them, drops or adds keys, or gives a value of another type, so the encoder goes back
    // and forth between copying, encoding and its general path; every value must decode as given.
    let seed = 7;
    const rnd = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return Math.floor((seed / 2147483648) * n); // the high bits: an LCG's low bits repeat
    };
    const pick = <T>(...values: T[]): T => (rnd(4) === 0 ? values[rnd(values.length)]! : values[0]!);
    // The values that repeat stay for a block of 6 spans, so most spans copy them from the
    // previous one; each new block changes one of them (or whether it is there), so a value left
    // out of the comparison shows. The rest change, or break the usual set, span by span.
    const choices: Record<string, unknown[]> = {
      routeFirst: [false, true], // `http.route` set first: another key order
      method: ['GET', 'POST', 'ÜBER'],
      scheme: ['http', 'https'],
      serverAddress: ['localhost', 'api.example.com', 'x'.repeat(200)],
      serverPort: [3000, 443, 65535, '3000'],
      clientAddress: ['127.0.0.1', '10.0.0.7'],
      peerAddress: ['127.0.0.1', '::1'],
      version: ['1.1', '2'],
      ua: [true, false],
      userAgent: ['autocannon/8.0.0', 'curl/8.5.0', ''],
      route: [true, false],
      routeValue: ['/users/:id', '/users/:id/orders', ''],
      status: [true, false],
      statusValue: [200, 404, 500, 2 ** 40],
      // keys of its own beside the lifecycle's (a framework's, a captured header), for a block
      others: ['none', 'nest', 'nest+header', 'nest-other-handler'],
    };
    const fields = Object.keys(choices);
    const block: Record<string, unknown> = Object.fromEntries(fields.map((f) => [f, choices[f]![0]]));
    const make = (i: number): { kind: SpanKind; attributes: Record<string, unknown> } => {
      if (i > 0 && i % 6 === 0) {
        const f = fields[rnd(fields.length)]!;
        const options = choices[f]!;
        block[f] = options[(options.indexOf(block[f]) + 1 + rnd(options.length - 1)) % options.length];
      }
      const k = block;
      const a: Record<string, unknown> = {};
      if (k.routeFirst) a['http.route'] = k.routeValue;
      a['http.request.method'] = k.method;
      a['url.scheme'] = k.scheme;
      a['server.address'] = k.serverAddress;
      a['server.port'] = k.serverPort;
      a['client.address'] = k.clientAddress;
      a['network.peer.address'] = k.peerAddress;
      a['network.protocol.version'] = k.version;
      if (k.ua) a['user_agent.original'] = k.userAgent;
      if (k.others !== 'none') {
        a['nestjs.controller'] = 'UsersController';
        a['nestjs.handler'] = k.others === 'nest-other-handler' ? 'remove' : 'findOne';
      }
      if (k.others === 'nest+header') a['http.request.header.accept'] = ['application/json'];
      if (rnd(15) === 0) a['http.request.header.x-id'] = [`id-${i}`];
      // paths of every length class: one-byte lengths, a KeyValue over 127 bytes, a long string
      a['url.path'] = pick(`/users/${i}`, `/ü/${i}`, `/${'日'.repeat(41)}`, `/${'x'.repeat(60)}`, '');
      if (rnd(5) === 0) a['url.query'] = `page=${i}&sig=REDACTED`;
      a['network.peer.port'] = pick<unknown>(40000 + i, 0, 2 ** 31, 1.5, -1);
      if (k.route) a['http.route'] = k.routeValue;
      if (k.status) a['http.response.status_code'] = k.statusValue;
      if (rnd(15) === 0) a['error.type'] = '500';
      if (rnd(15) === 0) a['user.note'] = undefined; // a key without a value: not written
      if (rnd(15) === 0) delete a['client.address'];
      return { kind: rnd(15) === 0 ? SpanKind.INTERNAL : SpanKind.SERVER, attributes: a };
    };
    const defined = (a: Record<string, unknown>) =>
      Object.fromEntries(
        Object.entries(a)
          .filter(([, v]) => v !== undefined)
          .map(([k, v]) => [k, typeof v === 'number' && v > Number.MAX_SAFE_INTEGER ? BigInt(v) : v]),
      );
    const inputs = Array.from({ length: 900 }, (_, i) => make(i));
    const spans = inputs.map(({ kind, attributes }, i) =>
      // every 50th span is short (under 128 bytes): its length prefix moves its bytes
      i % 50 === 49
        ? testSpan({ name: 's', kind })
        : testSpan({ name: `GET ${i % 3}`, kind, attributes: attributes as Attributes }),
    );
    const expected = inputs.map(({ attributes }, i) => (i % 50 === 49 ? {} : defined(attributes)));

    // One request, then another from the fifth span on: a new encode, in which what the first one
    // wrote sits at other offsets.
    expect(decodeProtobuf(encodeTraceRequest(spans)).map((d) => d.attributes)).toEqual(expected);
    expect(decodeProtobuf(encodeTraceRequest(spans.slice(5))).map((d) => d.attributes)).toEqual(
      expected.slice(5),
    );

    // Records, as the span arena writes them: back to back, switching targets now and then.
    const targets = [Buffer.alloc(512 * 1024), Buffer.alloc(512 * 1024)];
    const at = [0, 0];
    const rec = { chunk: [] as { buf: Buffer }[], off: [] as number[], len: [] as number[] };
    spans.forEach((span, i) => {
      const t = Math.floor(i / 97) % 2;
      const end = encodeSpanRecord(span, targets[t]!, at[t]!);
      rec.chunk.push({ buf: targets[t]! });
      rec.off.push(at[t]!);
      rec.len.push(end - at[t]!);
      at[t] = end;
    });
    const n = spans.length;
    const request = encodeTraceRequestFromRecords(
      {
        length: n,
        chunk: rec.chunk,
        off: Int32Array.from(rec.off),
        len: Int32Array.from(rec.len),
        resource: spans.map((s) => s.resource),
        scope: spans.map((s) => s.instrumentationScope),
      },
      0,
      n,
    );
    expect(decodeProtobuf(Buffer.from(request)).map((d) => d.attributes)).toEqual(expected);
  });

  it('writes the parent of an SDK 1.x span, which has parentSpanId and no parentSpanContext', () => {
    const v1 = { ...testSpan({ name: 'v1' }), parentSpanId: 'b7ad6b7169203331' } as ReadableSpan;
    const decoded = decodeProtobuf(encodeTraceRequest([v1, testSpan({ name: 'root' })]));
    expect(decoded.map((d) => [d.name, d.parentSpanId])).toEqual([
      ['v1', 'b7ad6b7169203331'],
      ['root', ''],
    ]);
  });

  it('writes nothing for an empty batch', () => {
    expect(encodeTraceRequest([]).length).toBe(0);
  });
});

describe('OTLP JSON encoder', () => {
  it('round-trips every span field with hex ids, integer enums and string 64-bit ints', () => {
    const body = encodeTraceRequestJson(richSpans());
    // JSON.stringify escapes a lone surrogate (\ud800), which is valid JSON and parses back as is.
    checkRich(decodeJson(body), 'a\ud800b');
    const raw = JSON.parse(body.toString('utf8'));
    const span = raw.resourceSpans[0].scopeSpans[0].spans[0];
    expect(span.traceId).toBe('0af7651916cd43dd8448eb211c80319c');
    expect(span.kind).toBe(2);
    expect(span.status.code).toBe(2);
    expect(span.startTimeUnixNano).toBe('1763800000999999999');
    expect(span.flags).toBe(0x303);
    const big = span.attributes.find((a: { key: string }) => a.key === 'big');
    expect(big.value).toEqual({ intValue: '4611686018427387904' });
    expect(span.links[0].flags).toBe(0x301);
  });

  it('prints integers above 2^53 exactly', () => {
    const v = 2 ** 60 + 256;
    const raw = JSON.parse(encodeTraceRequestJson([testSpan({ attributes: { v } })]).toString());
    expect(raw.resourceSpans[0].scopeSpans[0].spans[0].attributes[0].value.intValue).toBe(
      BigInt(v).toString(),
    );
  });
});

describe('partial success decoding', () => {
  it('reads rejected_spans and error_message from an ExportTraceServiceResponse', async () => {
    const { createRequire } = await import('node:module');
    const require = createRequire(import.meta.url);
    const root = require('otlp-transformer-052/build/src/generated/root.js');
    const Resp = root.opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse;
    const body = Resp.encode(
      Resp.create({ partialSuccess: { rejectedSpans: 3, errorMessage: 'too old ✓' } }),
    ).finish();
    expect(decodePartialSuccess(body)).toEqual({ rejectedSpans: 3, errorMessage: 'too old ✓' });
    expect(decodePartialSuccess(Resp.encode(Resp.create({})).finish())).toBeUndefined();
    expect(decodePartialSuccess(Buffer.from([0x0a, 0x50, 0x01]))).toBeUndefined();
  });
});

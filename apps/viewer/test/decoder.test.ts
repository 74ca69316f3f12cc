import {
  type Attributes,
  context,
  createTraceState,
  type HrTime,
  SpanKind,
  SpanStatusCode,
  TraceFlags,
  trace,
} from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OtlpDecodeError } from '../src/model.js';
import { decodeTraceRequestJson } from '../src/otlp-json-decode.js';
import { decodeTraceRequestProto, i64String, u64String } from '../src/otlp-proto-decode.js';
import { bySpanId, checkoutTrace, expectedRecord, sdk, toJson, toProto } from './helpers.js';

/** A span using every field of trace.proto, every AnyValue type, and times above 2^53 ns. */
function everyFieldSpans(): ReadableSpan[] {
  const { tracer, exporter } = sdk('every-field', { 'host.name': 'box', 'process.pid': 4242 });
  const linked = tracer.startSpan('linked');
  linked.end();
  const parentCtx = {
    traceId: '0af7651916cd43dd8448eb211c80319c',
    spanId: 'b7ad6b7169203331',
    traceFlags: TraceFlags.SAMPLED,
    isRemote: true,
    traceState: createTraceState('vendor=a,other=b'),
  };
  const start: HrTime = [1_795_325_860, 123_456_789];
  const s = tracer.startSpan(
    'GET /users/:id',
    {
      kind: SpanKind.PRODUCER,
      startTime: start,
      attributes: {
        str: 'héllo ✓ 𝄞',
        empty: '',
        int: 42,
        negative: -7,
        big: 2 ** 53 - 1,
        double: 3.25,
        bool: true,
        off: false,
        strings: ['a', 'b'],
        ints: [1, -2, 3],
        doubles: [0.5, 1.5],
        bools: [true, false],
      },
      links: [
        {
          context: { ...linked.spanContext(), traceState: createTraceState('l=1') },
          attributes: { 'link.kind': 'follows', n: 1 },
        },
        { context: { ...parentCtx, spanId: '00f067aa0ba902b7', isRemote: false } },
      ],
    },
    trace.setSpanContext(context.active(), parentCtx),
  );
  s.addEvent('cache.miss', { key: 'user:1', attempts: 2 }, [1_795_325_860, 200_000_000]);
  s.recordException(
    Object.assign(new RangeError('out of range'), { stack: 'RangeError: out of range\n    at f (a.ts:1:1)' }),
    [1_795_325_860, 300_000_001],
  );
  s.setStatus({ code: SpanStatusCode.ERROR, message: 'it failed' });
  s.end([1_795_325_861, 999_999_999]);
  const spans = exporter.getFinishedSpans();
  const target = spans.find((x) => x.name === 'GET /users/:id')!;
  // AnyValue types the API's attribute type cannot express (bytes, kvlist, nested and mixed
  // arrays) but OTLP carries: set them on the ended span's attributes, which the encoder reads.
  Object.assign(target.attributes as Record<string, unknown>, {
    bytes: new Uint8Array([0, 1, 2, 250, 255]),
    kv: { a: 'x', n: 5, nested: { deep: [1, 'two', { three: true }] } },
    mixed: ['s', 1, 2.5, false, new Uint8Array([9])],
    nestedArrays: [[1, 2], [['x']]],
  });
  // Scope attributes (InstrumentationScope.attributes, OTLP 1.1+).
  (target.instrumentationScope as { attributes?: Attributes }).attributes = { 'scope.attr': 'v' };
  return spans;
}

/** Attribute keys; `__proto__` cannot be an own key of the SDK's plain attribute objects. */
const key = (maxLength: number) => fc.string({ maxLength }).filter((k) => k !== '__proto__');

describe('protobuf decoder against the official encoder (@opentelemetry/otlp-transformer)', () => {
  it('decodes every field of every span exactly: ids, 64-bit times, kinds, status, all AnyValue types, events, links, resource, scope', () => {
    const spans = everyFieldSpans();
    const decoded = decodeTraceRequestProto(toProto(spans));
    expect(decoded.rejected).toBe(0);
    expect(bySpanId(decoded.spans)).toEqual(bySpanId(spans.map(expectedRecord)));
    const s = decoded.spans.find((x) => x.name === 'GET /users/:id')!;
    // Spot checks a user would notice, on top of the full comparison above.
    expect(s.startTimeUnixNano).toBe('1795325860123456789');
    expect(s.endTimeUnixNano).toBe('1795325861999999999');
    expect(s.parentSpanId).toBe('b7ad6b7169203331');
    expect(s.flags).toBe(0x301); // sampled, parent is remote
    expect(s.kind).toBe(4);
    expect(s.status).toEqual({ code: 2, message: 'it failed' });
    expect(s.events[1]!.timeUnixNano).toBe('1795325860300000001');
    expect(s.attributes.find((a) => a.key === 'bytes')!.value).toEqual({ bytesValue: 'AAEC+v8=' });
    expect(s.attributes.find((a) => a.key === 'negative')!.value).toEqual({ intValue: '-7' });
    expect(s.links[0]!.traceState).toBe('l=1');
    expect(s.scope.attributes).toEqual([{ key: 'scope.attr', value: { stringValue: 'v' } }]);
    expect(s.resource.attributes).toContainEqual({ key: 'process.pid', value: { intValue: '4242' } });
  });

  it('decodes a multi-service trace the same from protobuf and from JSON', () => {
    const spans = checkoutTrace();
    const fromProto = decodeTraceRequestProto(toProto(spans));
    const fromJson = decodeTraceRequestJson(JSON.parse(toJson(spans).toString()));
    expect(bySpanId(fromProto.spans)).toEqual(bySpanId(spans.map(expectedRecord)));
    expect(bySpanId(fromJson.spans)).toEqual(bySpanId(fromProto.spans));
    expect(new Set(fromProto.spans.map((s) => s.resource.attributes[0]!.value))).toEqual(
      new Set([{ stringValue: 'gateway' }, { stringValue: 'orders' }, { stringValue: 'payments' }]),
    );
  });

  it('keeps times above 2^53 ns exact, up to the largest uint64', () => {
    const { tracer, exporter } = sdk('t');
    // 18446744073.709551615 s = 2^64 - 1 ns.
    tracer.startSpan('max', { startTime: [18_446_744_073, 709_551_614] }).end([18_446_744_073, 709_551_615]);
    tracer.startSpan('zero', { startTime: [0, 1] }).end([0, 2]);
    const [max, zero] = exporter.getFinishedSpans();
    const d = decodeTraceRequestProto(toProto([max!, zero!]));
    expect(d.spans.map((s) => [s.startTimeUnixNano, s.endTimeUnixNano])).toEqual([
      ['18446744073709551614', '18446744073709551615'],
      ['1', '2'],
    ]);
  });

  it('decodes random spans of any attribute shape like the official encoder encodes them (property)', () => {
    const leaf = fc.oneof(
      fc.string(),
      fc.boolean(),
      fc.integer({ min: -(2 ** 31), max: 2 ** 31 }),
      fc.maxSafeInteger(),
      fc.double({ noNaN: true, noDefaultInfinity: true }).filter((d) => !Number.isInteger(d)),
      fc.uint8Array({ maxLength: 16 }),
    );
    const value = fc.letrec((tie) => ({
      v: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        leaf,
        fc.array(tie('v'), { maxLength: 3 }),
        fc.dictionary(key(5), tie('v'), { maxKeys: 3 }),
      ),
    })).v;
    fc.assert(
      fc.property(
        fc.dictionary(key(8), value, { maxKeys: 6 }),
        fc.string(),
        fc.constantFrom(0, 1, 2, 3, 4),
        fc.nat({ max: 2_000_000_000 }),
        fc.nat({ max: 999_999_999 }),
        (attrs, name, kind, sec, nanos) => {
          const { tracer, exporter } = sdk('prop');
          const s = tracer.startSpan(name, { kind, startTime: [sec, nanos] });
          s.end([sec + 1, nanos]);
          const span = exporter.getFinishedSpans()[0]!;
          for (const k of Object.keys(span.attributes))
            delete (span.attributes as Record<string, unknown>)[k];
          Object.assign(span.attributes as Record<string, unknown>, attrs);
          const expected = expectedRecord(span);
          const decoded = decodeTraceRequestProto(toProto([span]));
          expect(decoded.spans).toEqual([expected]);
          const fromJson = decodeTraceRequestJson(JSON.parse(toJson([span]).toString()));
          expect(fromJson.spans).toEqual([expected]);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('64-bit integers to decimal without BigInt', () => {
  it('matches BigInt for every unsigned and signed 64-bit value (property, with the edges)', () => {
    const check = (v: bigint) => {
      const lo = Number(v & 0xffffffffn);
      const hi = Number(v >> 32n);
      expect(u64String(lo, hi)).toBe(v.toString());
      expect(i64String(lo, hi)).toBe(BigInt.asIntN(64, v).toString());
    };
    for (const v of [
      0n,
      1n,
      2n ** 53n - 1n,
      2n ** 53n,
      2n ** 63n - 1n,
      2n ** 63n,
      2n ** 64n - 1n,
      999_999_999n,
      10n ** 18n,
    ]) {
      check(v);
    }
    fc.assert(fc.property(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), check), { numRuns: 20_000 });
  });
});

describe('decoding hostile or malformed protobuf', () => {
  it('never throws anything but OtlpDecodeError on random bytes, and never hangs', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
        try {
          decodeTraceRequestProto(bytes);
        } catch (err) {
          expect(err).toBeInstanceOf(OtlpDecodeError);
        }
      }),
      { numRuns: 5000 },
    );
  });

  it('never throws anything but OtlpDecodeError on corrupted valid requests (flipped, cut, spliced bytes)', () => {
    const valid = toProto(checkoutTrace());
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat({ max: valid.length - 1 }), fc.integer({ min: 0, max: 255 })), {
          maxLength: 6,
        }),
        fc.nat({ max: valid.length }),
        (flips, cut) => {
          const b = Buffer.from(valid.subarray(0, cut));
          for (const [i, v] of flips) if (i < b.length) b[i] = v;
          try {
            const d = decodeTraceRequestProto(b);
            for (const s of d.spans) {
              expect(s.traceId).toMatch(/^[0-9a-f]{32}$/);
              expect(s.spanId).toMatch(/^[0-9a-f]{16}$/);
            }
          } catch (err) {
            expect(err).toBeInstanceOf(OtlpDecodeError);
          }
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('refuses a length that runs past the end of its enclosing message', () => {
    // resource_spans (field 1, LEN) claiming 100 bytes with 2 present.
    expect(() => decodeTraceRequestProto(Buffer.from([0x0a, 100, 0x0a, 0x00]))).toThrow(/length exceeds/);
    // A 2^32-byte length.
    expect(() => decodeTraceRequestProto(Buffer.from([0x0a, 0x80, 0x80, 0x80, 0x80, 0x10]))).toThrow(
      OtlpDecodeError,
    );
  });

  it('refuses an 11-byte varint and an invalid wire type', () => {
    expect(() => decodeTraceRequestProto(Buffer.from([0x08, ...new Array(10).fill(0xff), 0x01]))).toThrow(
      /10 bytes/,
    );
    expect(() => decodeTraceRequestProto(Buffer.from([0x0e]))).toThrow(/wire type 6/);
  });

  it('skips unknown fields of every wire type, including groups', () => {
    const valid = toProto(checkoutTrace());
    const unknown = Buffer.from([
      0xf8,
      0x01,
      0x05, // field 31 varint
      0xf9,
      0x01,
      1,
      2,
      3,
      4,
      5,
      6,
      7,
      8, // field 31 fixed64
      0xfd,
      0x01,
      1,
      2,
      3,
      4, // field 31 fixed32
      0xfa,
      0x01,
      0x02,
      0xaa,
      0xbb, // field 31 LEN
      0xfb,
      0x01,
      0x08,
      0x01,
      0xfc,
      0x01, // field 31 start group, varint inside, end group
    ]);
    const d = decodeTraceRequestProto(Buffer.concat([unknown, valid, unknown]));
    expect(d.spans).toHaveLength(checkoutTrace().length);
  });

  it('limits AnyValue nesting depth', () => {
    const deep = nest(30);
    expect(() => decodeTraceRequestProto(deep, { maxDepth: 8 })).toThrow(/nested too deeply/);
    expect(decodeTraceRequestProto(deep, { maxDepth: 64 }).spans).toHaveLength(1);
  });

  it('stops a request that decodes into too many elements (413 budget)', () => {
    const many = checkoutTrace();
    let err: unknown;
    try {
      decodeTraceRequestProto(toProto(many), { maxElements: 10 });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(OtlpDecodeError);
    expect((err as OtlpDecodeError).tooLarge).toBe(true);
  });

  it('rejects spans with invalid ids and keeps the others (partial success)', () => {
    const spans = checkoutTrace();
    const json = JSON.parse(toJson(spans).toString());
    const first = json.resourceSpans[0].scopeSpans[0].spans;
    first[0].traceId = '00000000000000000000000000000000';
    first.push({ ...first[0], traceId: 'abcd', spanId: '1111111111111111' });
    const d = decodeTraceRequestJson(json);
    expect(d.rejected).toBe(2);
    expect(d.rejectReason).toMatch(/invalid trace_id/);
    expect(d.spans).toHaveLength(spans.length - 1);
  });
});

describe('JSON decoder', () => {
  it('accepts enum names, numeric 64-bit values, uppercase hex and unknown fields; normalises them', () => {
    const d = decodeTraceRequestJson({
      unknownTop: 1,
      resourceSpans: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'svc' } }] },
          scopeSpans: [
            {
              scope: { name: 's' },
              spans: [
                {
                  traceId: '0AF7651916CD43DD8448EB211C80319C',
                  spanId: 'B7AD6B7169203331',
                  name: 'x',
                  kind: 'SPAN_KIND_SERVER',
                  startTimeUnixNano: 1_000,
                  endTimeUnixNano: '0002000',
                  status: { code: 'STATUS_CODE_ERROR' },
                  attributes: [
                    { key: 'i', value: { intValue: 5 } },
                    { key: 'nan', value: { doubleValue: 'NaN' } },
                  ],
                  somethingNew: { x: 1 },
                },
              ],
            },
          ],
        },
      ],
    });
    const s = d.spans[0]!;
    expect(s.traceId).toBe('0af7651916cd43dd8448eb211c80319c');
    expect(s.kind).toBe(2);
    expect(s.status.code).toBe(2);
    expect([s.startTimeUnixNano, s.endTimeUnixNano]).toEqual(['1000', '2000']);
    expect(s.attributes[0]!.value).toEqual({ intValue: '5' });
    expect(Number.isNaN((s.attributes[1]!.value as { doubleValue: number }).doubleValue)).toBe(true);
  });

  it('throws OtlpDecodeError, naming the path, for values of the wrong type', () => {
    expect(() => decodeTraceRequestJson({ resourceSpans: {} })).toThrow(/resourceSpans: expected an array/);
    expect(() =>
      decodeTraceRequestJson({ resourceSpans: [{ scopeSpans: [{ spans: [{ name: 5 }] }] }] }),
    ).toThrow(/spans\[0\]\.name: expected a string/);
    expect(() => decodeTraceRequestJson(null)).toThrow(OtlpDecodeError);
    expect(() => decodeTraceRequestJson([1])).toThrow(OtlpDecodeError);
  });

  it('never throws anything but OtlpDecodeError on random JSON values', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.jsonValue(), (a, b) => {
        for (const input of [
          a,
          { resourceSpans: [a] },
          { resourceSpans: [{ scopeSpans: [{ spans: [a, b] }] }] },
        ]) {
          try {
            decodeTraceRequestJson(input);
          } catch (err) {
            expect(err).toBeInstanceOf(OtlpDecodeError);
          }
        }
      }),
      { numRuns: 2000 },
    );
  });
});

/** A span whose one attribute is an arrayValue nested `depth` times. */
function nest(depth: number): Buffer {
  const len = (n: number) => {
    const out: number[] = [];
    while (n > 0x7f) {
      out.push((n & 0x7f) | 0x80);
      n >>>= 7;
    }
    out.push(n);
    return Buffer.from(out);
  };
  const field = (tag: number, body: Buffer) => Buffer.concat([Buffer.from([tag]), len(body.length), body]);
  let value = field(0x0a, Buffer.from('leaf')); // AnyValue.string_value
  for (let i = 0; i < depth; i++) value = field(0x2a, field(0x0a, value)); // array_value{ values: value }
  const kv = Buffer.concat([field(0x0a, Buffer.from('k')), field(0x12, value)]);
  const span = Buffer.concat([
    field(0x0a, Buffer.alloc(16, 1)),
    field(0x12, Buffer.alloc(8, 2)),
    field(0x2a, Buffer.from('deep')),
    field(0x4a, kv),
  ]);
  return field(0x0a, field(0x12, field(0x12, span)));
}

/**
 * B3 single and multi header (openzipkin/b3-propagation; OpenTelemetry "B3 Requirements"), and
 * interop with the official `@opentelemetry/propagator-b3` in both directions.
 */
import {
  type Context,
  defaultTextMapGetter,
  defaultTextMapSetter,
  ROOT_CONTEXT,
  type SpanContext,
  type TextMapGetter,
  TraceFlags,
  trace,
} from '@opentelemetry/api';
import { B3InjectEncoding, B3Propagator as OfficialB3 } from '@opentelemetry/propagator-b3';
import { describe, expect, it } from 'vitest';
import { B3_DEBUG_FLAG_KEY, B3Propagator, getB3SamplingDecision } from './b3.js';

const single = new B3Propagator();
const multi = new B3Propagator({ injectEncoding: 'multi' });
const TID = '80f198ee56343ba864fe8b2a57d3eff7';
const SID = 'e457b5a2e4d86bd1';
const PID = '05e3ac9a4f6e3b90';

function extract(carrier: Record<string, unknown>, getter: TextMapGetter = defaultTextMapGetter): Context {
  return single.extract(ROOT_CONTEXT, carrier, getter);
}
function sc(carrier: Record<string, unknown>): SpanContext | undefined {
  return trace.getSpanContext(extract(carrier));
}
function injectWith(p: { inject: B3Propagator['inject'] }, ctx: Context): Record<string, string> {
  const out: Record<string, string> = {};
  p.inject(ctx, out, defaultTextMapSetter);
  return out;
}

describe('extract: single header', () => {
  it('reads {traceId}-{spanId}-{sampling}-{parentSpanId} and marks it remote', () => {
    expect(sc({ b3: `${TID}-${SID}-1-${PID}` })).toEqual({
      traceId: TID,
      spanId: SID,
      traceFlags: TraceFlags.SAMPLED,
      isRemote: true,
    });
    expect(sc({ b3: `${TID}-${SID}-0` })?.traceFlags).toBe(TraceFlags.NONE);
    expect(sc({ b3: `${TID}-${SID}` })?.traceFlags).toBe(TraceFlags.NONE);
  });

  it('left-pads a 64-bit trace id to 128 bits', () => {
    expect(sc({ b3: `64fe8b2a57d3eff7-${SID}-1` })?.traceId).toBe('000000000000000064fe8b2a57d3eff7');
  });

  it('debug (d) means sampled and is kept for inject', () => {
    const ctx = extract({ b3: `${TID}-${SID}-d` });
    expect(trace.getSpanContext(ctx)?.traceFlags).toBe(TraceFlags.SAMPLED);
    expect(ctx.getValue(B3_DEBUG_FLAG_KEY)).toBe('d');
    const child = trace.setSpanContext(ctx, { traceId: TID, spanId: PID, traceFlags: TraceFlags.SAMPLED });
    expect(injectWith(single, child)).toEqual({ b3: `${TID}-${PID}-d` });
    expect(injectWith(multi, child)).toEqual({ 'x-b3-traceid': TID, 'x-b3-spanid': PID, 'x-b3-flags': '1' });
  });

  it('a lone sampling state (0, 1, d) is kept as a decision and passed on', () => {
    for (const [v, d] of [
      ['0', 'deny'],
      ['1', 'accept'],
      ['d', 'debug'],
    ] as const) {
      const ctx = extract({ b3: v });
      expect(trace.getSpanContext(ctx)).toBeUndefined();
      expect(getB3SamplingDecision(ctx)).toBe(d);
      expect(injectWith(single, ctx)).toEqual({ b3: v });
    }
    expect(injectWith(multi, extract({ b3: '0' }))).toEqual({ 'x-b3-sampled': '0' });
  });

  it('accepts uppercase hex and OWS, normalising to lowercase', () => {
    expect(sc({ b3: ` ${TID.toUpperCase()}-${SID.toUpperCase()}-1 ` })?.traceId).toBe(TID);
  });

  it('rejects malformed values', () => {
    for (const b3 of [
      '',
      '2',
      'true',
      `${TID}`,
      `${TID}-${SID}-2`,
      `${TID}-${SID}-1-${PID}-x`,
      `${TID}-${SID}-1-short`,
      `${TID.slice(1)}-${SID}-1`,
      `${TID}0-${SID}-1`,
      `${TID}-${SID.slice(1)}-1`,
      `${'0'.repeat(32)}-${SID}-1`,
      `${TID}-${'0'.repeat(16)}-1`,
      `${'g'.repeat(32)}-${SID}-1`,
      `${TID}-${SID}-1`.repeat(1000),
    ]) {
      expect(extract({ b3 }), b3.slice(0, 60)).toBe(ROOT_CONTEXT);
    }
    expect(extract({ b3: [`${TID}-${SID}-1`, `${TID}-${SID}-1`] })).toBe(ROOT_CONTEXT);
  });

  it('takes precedence over multi headers; falls back to them when malformed', () => {
    expect(sc({ b3: `${TID}-${SID}-1`, 'x-b3-traceid': 'a'.repeat(32), 'x-b3-spanid': PID })?.spanId).toBe(
      SID,
    );
    expect(sc({ b3: 'garbage', 'x-b3-traceid': TID, 'x-b3-spanid': PID, 'x-b3-sampled': '1' })?.spanId).toBe(
      PID,
    );
  });
});

describe('extract: multi header', () => {
  it('reads X-B3-* headers, case-insensitively', () => {
    const carrier = {
      'X-B3-TraceId': TID,
      'X-B3-SpanId': SID,
      'X-B3-Sampled': '1',
      'X-B3-ParentSpanId': PID,
    };
    expect(sc(carrier)).toEqual({
      traceId: TID,
      spanId: SID,
      traceFlags: TraceFlags.SAMPLED,
      isRemote: true,
    });
    expect(sc({ 'x-b3-traceid': TID, 'x-b3-spanid': SID, 'x-b3-sampled': '0' })?.traceFlags).toBe(
      TraceFlags.NONE,
    );
    expect(sc({ B3: `${TID}-${SID}-1` })?.traceId).toBe(TID);
  });

  it('accepts true/false for X-B3-Sampled, 64-bit trace ids, and X-B3-Flags: 1 as debug', () => {
    expect(sc({ 'x-b3-traceid': TID, 'x-b3-spanid': SID, 'x-b3-sampled': 'true' })?.traceFlags).toBe(1);
    expect(sc({ 'x-b3-traceid': TID, 'x-b3-spanid': SID, 'x-b3-sampled': 'false' })?.traceFlags).toBe(0);
    expect(sc({ 'x-b3-traceid': '64fe8b2a57d3eff7', 'x-b3-spanid': SID })?.traceId).toBe(
      '000000000000000064fe8b2a57d3eff7',
    );
    const ctx = extract({ 'x-b3-traceid': TID, 'x-b3-spanid': SID, 'x-b3-flags': '1' });
    expect(trace.getSpanContext(ctx)?.traceFlags).toBe(TraceFlags.SAMPLED);
    expect(ctx.getValue(B3_DEBUG_FLAG_KEY)).toBe('1');
  });

  it('keeps a lone X-B3-Sampled as a decision', () => {
    expect(getB3SamplingDecision(extract({ 'x-b3-sampled': '0' }))).toBe('deny');
  });

  it('rejects incomplete or malformed sets', () => {
    for (const c of [
      { 'x-b3-traceid': TID },
      { 'x-b3-spanid': SID },
      { 'x-b3-traceid': TID, 'x-b3-spanid': SID, 'x-b3-sampled': 'yes' },
      { 'x-b3-traceid': TID, 'x-b3-spanid': SID, 'x-b3-parentspanid': 'nope' },
      { 'x-b3-traceid': [TID, TID], 'x-b3-spanid': SID },
      { 'x-b3-traceid': 7, 'x-b3-spanid': SID },
    ]) {
      expect(extract(c)).toBe(ROOT_CONTEXT);
    }
  });

  it('never throws', () => {
    const throwing: TextMapGetter = {
      get() {
        throw new Error('x');
      },
      keys() {
        throw new Error('y');
      },
    };
    expect(single.extract(ROOT_CONTEXT, {}, throwing)).toBe(ROOT_CONTEXT);
    expect(single.extract(ROOT_CONTEXT, null, defaultTextMapGetter)).toBe(ROOT_CONTEXT);
  });
});

describe('inject', () => {
  const ctx = trace.setSpanContext(ROOT_CONTEXT, { traceId: TID, spanId: SID, traceFlags: 3 });

  it('single by default, without a parent span id', () => {
    expect(injectWith(single, ctx)).toEqual({ b3: `${TID}-${SID}-1` });
    expect(
      injectWith(single, trace.setSpanContext(ROOT_CONTEXT, { traceId: TID, spanId: SID, traceFlags: 2 })),
    ).toEqual({ b3: `${TID}-${SID}-0` });
  });

  it('multi on request', () => {
    expect(injectWith(multi, ctx)).toEqual({ 'x-b3-traceid': TID, 'x-b3-spanid': SID, 'x-b3-sampled': '1' });
    expect(multi.fields()).toEqual([
      'x-b3-traceid',
      'x-b3-spanid',
      'x-b3-sampled',
      'x-b3-flags',
      'x-b3-parentspanid',
    ]);
    expect(single.fields()).toEqual(['b3']);
  });

  it('rejects bad options with a TypeError naming the option', () => {
    expect(() => new B3Propagator({ injectEncoding: 'both' as 'single' })).toThrow(
      /options\.injectEncoding must be 'single' or 'multi'/,
    );
    expect(() => new B3Propagator(null as unknown as object)).toThrow(TypeError);
  });
});

describe('interop with @opentelemetry/propagator-b3', () => {
  const officialSingle = new OfficialB3({ injectEncoding: B3InjectEncoding.SINGLE_HEADER });
  const officialMulti = new OfficialB3({ injectEncoding: B3InjectEncoding.MULTI_HEADER });
  const cases: SpanContext[] = [
    { traceId: TID, spanId: SID, traceFlags: 1 },
    { traceId: TID, spanId: SID, traceFlags: 0 },
  ];

  it('ours inject → official extract, both encodings', () => {
    for (const c of cases) {
      const ctx = trace.setSpanContext(ROOT_CONTEXT, c);
      for (const [ours, theirs] of [
        [single, officialSingle],
        [multi, officialMulti],
      ] as const) {
        const carrier = injectWith(ours, ctx);
        const back = trace.getSpanContext(theirs.extract(ROOT_CONTEXT, carrier, defaultTextMapGetter));
        expect(back).toEqual({ ...c, isRemote: true });
      }
    }
  });

  it('official inject → ours extract, both encodings', () => {
    for (const c of cases) {
      const ctx = trace.setSpanContext(ROOT_CONTEXT, c);
      for (const theirs of [officialSingle, officialMulti]) {
        const carrier: Record<string, string> = {};
        theirs.inject(ctx, carrier, defaultTextMapSetter);
        expect(sc(carrier)).toEqual({ ...c, isRemote: true });
      }
    }
  });
});

/**
 * Interop with the official `@opentelemetry/core` propagators: for valid input each side reads what
 * the other writes. Then the strict cases where the official one departs from the W3C specification
 * (the reason tracewire has its own): each asserts what the spec asks, and records what the official
 * one does, so a change on either side shows up here.
 */
import {
  defaultTextMapGetter,
  defaultTextMapSetter,
  propagation,
  ROOT_CONTEXT,
  type SpanContext,
  trace,
} from '@opentelemetry/api';
import {
  W3CBaggagePropagator as OfficialBaggage,
  TraceState as OfficialTraceState,
  W3CTraceContextPropagator as OfficialW3C,
} from '@opentelemetry/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { W3CBaggagePropagator } from './baggage.js';
import { W3CTraceContextPropagator } from './trace-context.js';
import { TraceState } from './trace-state.js';

const ours = new W3CTraceContextPropagator();
const official = new OfficialW3C();
const TID = '12345678901234567890123456789012';
const SID = '1234567890123456';
const TP = `00-${TID}-${SID}-00`;

const hex = (n: number) =>
  fc
    .string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: n, maxLength: n })
    .filter((s) => /[1-9a-f]/.test(s));
const keyArb = fc
  .tuple(
    fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz'),
    fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789_-*/'), maxLength: 20 }),
  )
  .map(([a, b]) => a + b);
const valueArb = fc
  .string({
    unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)),
    minLength: 1,
    maxLength: 30,
  })
  .filter((v) => !v.includes(',') && !v.includes('='));
const traceStateArb = fc.uniqueArray(fc.tuple(keyArb, valueArb), { selector: ([k]) => k, maxLength: 8 });

function officialExtract(carrier: Record<string, unknown>): SpanContext | undefined {
  return trace.getSpanContext(official.extract(ROOT_CONTEXT, carrier, defaultTextMapGetter));
}
function oursExtract(carrier: Record<string, unknown>): SpanContext | undefined {
  return trace.getSpanContext(ours.extract(ROOT_CONTEXT, carrier, defaultTextMapGetter));
}

describe('interop on valid input', () => {
  it('ours inject → official extract, and official inject → ours extract', () => {
    fc.assert(
      fc.property(
        hex(32),
        hex(16),
        fc.integer({ min: 0, max: 3 }),
        traceStateArb,
        (traceId, spanId, flags, members) => {
          const header = members.map(([k, v]) => `${k}=${v}`).join(',');
          // ours → official
          const out1: Record<string, string> = {};
          const ourSc: SpanContext = {
            traceId,
            spanId,
            traceFlags: flags,
            traceState: new TraceState(header),
          };
          ours.inject(trace.setSpanContext(ROOT_CONTEXT, ourSc), out1, defaultTextMapSetter);
          const got1 = officialExtract(out1);
          expect(got1).toMatchObject({ traceId, spanId, traceFlags: flags, isRemote: true });
          expect(got1?.traceState?.serialize() ?? '').toBe(header);
          // official → ours
          const out2: Record<string, string> = {};
          const theirSc: SpanContext = {
            traceId,
            spanId,
            traceFlags: flags,
            traceState: new OfficialTraceState(header),
          };
          official.inject(trace.setSpanContext(ROOT_CONTEXT, theirSc), out2, defaultTextMapSetter);
          const got2 = oursExtract(out2);
          expect(got2).toMatchObject({ traceId, spanId, traceFlags: flags, isRemote: true });
          expect(got2?.traceState?.serialize() ?? '').toBe(header);
        },
      ),
    );
  });

  it('baggage both ways', () => {
    const token = fc.string({ unit: fc.constantFrom(...'abcXYZ019-_.'), minLength: 1, maxLength: 12 });
    fc.assert(
      fc.property(
        fc.dictionary(token, fc.string({ minLength: 1, maxLength: 20 }), { maxKeys: 10 }),
        (record) => {
          const entries = Object.fromEntries(Object.entries(record).map(([k, v]) => [k, { value: v }]));
          const ctx = propagation.setBaggage(ROOT_CONTEXT, propagation.createBaggage(entries));
          for (const [from, to] of [
            [new W3CBaggagePropagator(), new OfficialBaggage()],
            [new OfficialBaggage(), new W3CBaggagePropagator()],
          ] as const) {
            const carrier: Record<string, string> = {};
            from.inject(ctx, carrier, defaultTextMapSetter);
            const back = propagation.getBaggage(to.extract(ROOT_CONTEXT, carrier, defaultTextMapGetter));
            const got = Object.fromEntries((back?.getAllEntries() ?? []).map(([k, e]) => [k, e.value]));
            // Lone surrogates are not UTF-8: both sides send U+FFFD.
            const want = Object.fromEntries(
              Object.entries(record).map(([k, v]) => [k, Buffer.from(v, 'utf8').toString('utf8')]),
            );
            expect(got).toEqual(want);
          }
        },
      ),
    );
  });
});

describe('where the official propagator departs from the W3C spec (strict conformance)', () => {
  /** Outgoing tracestate after extracting `headers` with `p` and re-injecting. */
  function relay(p: typeof ours | typeof official, headers: Record<string, unknown>) {
    const ctx = p.extract(ROOT_CONTEXT, headers, defaultTextMapGetter);
    const out: Record<string, string> = {};
    p.inject(ctx, out, defaultTextMapSetter);
    return out;
  }

  const strictCases: Array<[string, string | string[], string | undefined, string | undefined]> = [
    // name, tracestate received, ours sends (spec), official sends
    [
      '33 members: the whole header is invalid',
      Array.from({ length: 33 }, (_, i) => `k${i}=${i}`).join(','),
      undefined,
      Array.from({ length: 32 }, (_, i) => `k${i}=${i}`).join(','),
    ],
    ['a key starting with @', '@foo=1,bar=2', undefined, 'bar=2'],
    ['a 257-character key', ['foo=1', `${'z'.repeat(257)}=1`], undefined, 'foo=1'],
    ['an empty value', 'foo=,bar=3', undefined, 'bar=3'],
    ['a key with two @ (Level 2 key grammar)', 'foo@@bar=1,bar=2', 'foo@@bar=1,bar=2', 'bar=2'],
    ['a key starting with a digit', '0foo=1', '0foo=1', ''],
    ['a system id of 15 characters', `t@${'v'.repeat(15)}=1`, `t@${'v'.repeat(15)}=1`, ''],
  ];
  for (const [name, received, spec, theirs] of strictCases) {
    it(`tracestate: ${name}`, () => {
      expect(relay(ours, { traceparent: TP, tracestate: received }).tracestate).toBe(spec);
      expect(relay(official, { traceparent: TP, tracestate: received }).tracestate).toBe(theirs);
    });
  }

  it('traceparent: two headers are invalid (official uses the first)', () => {
    const h = { traceparent: [TP, `00-${'a'.repeat(32)}-${SID}-01`] };
    expect(oursExtract(h)).toBeUndefined();
    expect(officialExtract(h)?.traceId).toBe(TID);
  });

  it('traceparent: OWS of more than one character is tolerated (official: one, and also newlines)', () => {
    expect(oursExtract({ traceparent: `\t ${TP} \t` })?.traceId).toBe(TID);
    expect(officialExtract({ traceparent: `\t ${TP} \t` })).toBeUndefined();
    expect(oursExtract({ traceparent: `\n${TP}` })).toBeUndefined();
    expect(officialExtract({ traceparent: `\n${TP}` })?.traceId).toBe(TID);
  });

  it('flags: undefined bits are sent as 0 (official sends an invalid 3-digit field)', () => {
    const received = { traceparent: `00-${TID}-${SID}-ff` };
    expect(relay(ours, received).traceparent).toBe(`00-${TID}-${SID}-03`);
    expect(relay(official, received).traceparent).toBe(`00-${TID}-${SID}-0ff`);
  });

  it('inject: an uppercase id is never sent (official sends it, making the header invalid)', () => {
    const ctx = trace.setSpanContext(ROOT_CONTEXT, {
      traceId: TID.replace('1', 'A'),
      spanId: SID,
      traceFlags: 1,
    });
    const a: Record<string, string> = {};
    const b: Record<string, string> = {};
    ours.inject(ctx, a, defaultTextMapSetter);
    official.inject(ctx, b, defaultTextMapSetter);
    expect(a.traceparent).toBeUndefined();
    expect(b.traceparent).toBe(`00-${TID.replace('1', 'A')}-${SID}-01`);
  });

  it('the random flag is kept by both propagators (the official SDK loses it when it makes the child span)', () => {
    const received = { traceparent: `00-${TID}-${SID}-02` };
    expect(relay(ours, received).traceparent).toBe(`00-${TID}-${SID}-02`);
    expect(relay(official, received).traceparent).toBe(`00-${TID}-${SID}-02`);
  });
});

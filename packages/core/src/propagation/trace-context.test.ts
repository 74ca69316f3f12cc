/**
 * W3C Trace Context Level 2 conformance (SPEC.md §4), on the propagator alone: every case of the
 * W3C test suite (w3c/trace-context `test/test.py`, strict level 2, spec level 2) plus the rules
 * SPEC.md lists. A "service" here extracts, makes a child span context (new span id, same trace id
 * and flags, as every SDK does) and injects into an outgoing carrier. The same cases run over real
 * HTTP in `trace-context.http.test.ts`.
 */
import { randomBytes } from 'node:crypto';
import {
  type Context,
  defaultTextMapGetter,
  defaultTextMapSetter,
  ROOT_CONTEXT,
  type SpanContext,
  type TextMapGetter,
  trace,
} from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { TraceState } from './trace-state.js';
import { caseInsensitiveGetter } from './carrier.js';
import { parseTraceParent, TRACE_FLAG_RANDOM, W3CTraceContextPropagator } from './trace-context.js';

const prop = new W3CTraceContextPropagator();
const TID = '12345678901234567890123456789012';
const SID = '1234567890123456';
const VALID = `00-${TID}-${SID}-01`;

type Carrier = Record<string, unknown>;

function extract(carrier: Carrier, getter: TextMapGetter = defaultTextMapGetter): Context {
  return prop.extract(ROOT_CONTEXT, carrier, getter);
}

function extracted(carrier: Carrier): SpanContext | undefined {
  return trace.getSpanContext(extract(carrier));
}

/** What a traced service sends downstream after receiving `carrier`. */
function service(carrier: Carrier): { traceparent: string; tracestate: string | undefined } {
  const parent = extracted(carrier);
  const child: SpanContext = parent
    ? { ...parent, spanId: randomBytes(8).toString('hex'), isRemote: false }
    : {
        traceId: randomBytes(16).toString('hex'),
        spanId: randomBytes(8).toString('hex'),
        traceFlags: 0x01 | TRACE_FLAG_RANDOM,
      };
  const out: Record<string, string> = {};
  prop.inject(trace.setSpanContext(ROOT_CONTEXT, child), out, defaultTextMapSetter);
  expect(out.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[0-3]$/);
  return { traceparent: out.traceparent!, tracestate: out.tracestate };
}

function outTraceId(carrier: Carrier): string {
  return service(carrier).traceparent.slice(3, 35);
}

/** The W3C harness's view of an outgoing tracestate (it keeps the first of duplicate keys). */
function outState(carrier: Carrier): Map<string, string> {
  const ts = service(carrier).tracestate;
  const m = new Map<string, string>();
  if (ts === undefined) return m;
  for (const member of ts.split(',')) {
    const eq = member.indexOf('=');
    const k = member.slice(0, eq);
    if (!m.has(k)) m.set(k, member.slice(eq + 1));
  }
  return m;
}

describe('traceparent: accepted values', () => {
  it('inherits the trace id and sends a new parent id (test_traceparent_included_tracestate_missing)', () => {
    const out = service({ traceparent: VALID });
    expect(out.traceparent.slice(3, 35)).toBe(TID);
    expect(out.traceparent.slice(36, 52)).not.toBe(SID);
    expect(out.tracestate).toBeUndefined();
  });

  it('marks the extracted context remote and keeps sampled/random flags', () => {
    expect(extracted({ traceparent: VALID })).toEqual({
      traceId: TID,
      spanId: SID,
      traceFlags: 1,
      isRemote: true,
    });
    expect(extracted({ traceparent: `00-${TID}-${SID}-03` })?.traceFlags).toBe(3);
    expect(extracted({ traceparent: `00-${TID}-${SID}-00` })?.traceFlags).toBe(0);
  });

  it('keeps the Level 2 random flag on the outgoing header exactly as received (test_propagates_random_flag)', () => {
    for (const [flags, expected] of [
      ['02', '02'],
      ['03', '03'],
      ['00', '00'],
      ['01', '01'],
    ] as const) {
      const out = service({ traceparent: `00-${TID}-${SID}-${flags}` });
      expect(out.traceparent.slice(53)).toBe(expected);
      expect(out.traceparent.slice(36, 52)).not.toBe(SID);
    }
  });

  it('sends undefined flag bits as 0 but keeps sampled and random (§3.2.2.5.3)', () => {
    expect(extracted({ traceparent: `00-${TID}-${SID}-ff` })?.traceFlags).toBe(3);
    expect(service({ traceparent: `00-${TID}-${SID}-fe` }).traceparent.slice(53)).toBe('02');
    const out: Record<string, string> = {};
    prop.inject(
      trace.setSpanContext(ROOT_CONTEXT, { traceId: TID, spanId: SID, traceFlags: 0xfd }),
      out,
      defaultTextMapSetter,
    );
    expect(out.traceparent).toBe(`00-${TID}-${SID}-01`);
  });

  it('accepts header names in any case through a case-insensitive getter (test_traceparent_header_name_valid_casing)', () => {
    // Over HTTP Node lowercases names (see trace-context.http.test.ts); other carriers use caseInsensitiveGetter.
    for (const name of ['TraceParent', 'TrAcEpArEnT', 'TRACEPARENT']) {
      expect(trace.getSpanContext(extract({ [name]: VALID }, caseInsensitiveGetter))?.traceId).toBe(TID);
    }
    const sc = trace.getSpanContext(
      extract({ TRACEPARENT: VALID, TraceState: 'foo=1' }, caseInsensitiveGetter),
    );
    expect(sc?.traceState?.get('foo')).toBe('1');
    // The default getter reads the exact name only: no key scan on every request.
    expect(extract({ TraceParent: VALID })).toBe(ROOT_CONTEXT);
  });

  it('tolerates OWS around the value (test_traceparent_ows_handling)', () => {
    for (const v of [` ${VALID}`, `\t${VALID}`, `${VALID} `, `${VALID}\t`, `\t ${VALID} \t`]) {
      expect(outTraceId({ traceparent: v })).toBe(TID);
    }
  });

  it('accepts a future version and re-emits version 00 (test_traceparent_version_0xcc)', () => {
    for (const v of [`cc-${TID}-${SID}-01`, `cc-${TID}-${SID}-01-what-the-future-will-be-like`]) {
      const out = service({ traceparent: v });
      expect(out.traceparent.slice(0, 36)).toBe(`00-${TID}-`);
      expect(out.traceparent.slice(53)).toBe('01');
    }
    // Exactly 55 characters, and a future version's random flag is kept too.
    expect(extracted({ traceparent: `01-${TID}-${SID}-02` })?.traceFlags).toBe(2);
    expect(extracted({ traceparent: `fe-${TID}-${SID}-03-` })?.traceFlags).toBe(3);
  });

  it('accepts an array holding one value', () => {
    expect(outTraceId({ traceparent: [VALID] })).toBe(TID);
  });

  it('parses a 1 MB future-version header (extra fields ignored)', () => {
    const huge = `cc-${TID}-${SID}-01-${'x'.repeat(1 << 20)}`;
    expect(parseTraceParent(huge)).toEqual({ traceId: TID, spanId: SID, traceFlags: 1 });
  });
});

describe('traceparent: invalid values restart the trace and leave the context unchanged', () => {
  const invalid: Array<[string, unknown]> = [
    ['two headers (array)', [VALID, `00-${TID.replace('2', '3')}-${SID}-01`]],
    ['two headers joined with a comma (Node)', `${VALID}, 00-12345678901234567890123456789011-${SID}-01`],
    ['same header twice joined', `${VALID},${VALID}`],
    ['future version joined with a comma', `cc-${TID}-${SID}-01-x, cc-${TID}-${SID}-01`],
    ['version 00 with a trailing dot', `${VALID}.`],
    ['version 00 with future fields', `${VALID}-what-the-future-will-be-like`],
    ['future version with flags followed by a dot', `cc-${TID}-${SID}-01.what-the-future-will-be-like`],
    ['future version shorter than 55', `cc-${TID}-${SID}-0`],
    ['version ff', `ff-${TID}-${SID}-01`],
    ['illegal version char .0', `.0-${TID}-${SID}-01`],
    ['illegal version char 0.', `0.-${TID}-${SID}-01`],
    ['version too long (000)', `000-${TID}-${SID}-01`],
    ['version too long (0000)', `0000-${TID}-${SID}-01`],
    ['version too short', `0-${TID}-${SID}-01`],
    ['uppercase version', `CC-${TID}-${SID}-01`],
    ['all-zero trace id', `00-00000000000000000000000000000000-${SID}-01`],
    ['illegal trace id char first', `00-.2345678901234567890123456789012-${SID}-01`],
    ['illegal trace id char last', `00-1234567890123456789012345678901.-${SID}-01`],
    ['trace id too long', `00-123456789012345678901234567890123-${SID}-01`],
    ['trace id too short', `00-1234567890123456789012345678901-${SID}-01`],
    ['uppercase trace id', `00-ABCDEF78901234567890123456789012-${SID}-01`],
    ['all-zero parent id', `00-${TID}-0000000000000000-01`],
    ['illegal parent id char first', `00-${TID}-.234567890123456-01`],
    ['illegal parent id char last', `00-${TID}-123456789012345.-01`],
    ['parent id too long', `00-${TID}-12345678901234567-01`],
    ['parent id too short', `00-${TID}-123456789012345-01`],
    ['uppercase parent id', `00-${TID}-ABCDEF7890123456-01`],
    ['illegal flags .0', `00-${TID}-${SID}-.0`],
    ['illegal flags 0.', `00-${TID}-${SID}-0.`],
    ['flags too long', `00-${TID}-${SID}-001`],
    ['flags too short', `00-${TID}-${SID}-1`],
    ['uppercase flags', `00-${TID}-${SID}-0A`],
    ['all-zero ids in a future version', `cc-00000000000000000000000000000000-${SID}-01-x`],
    ['inner whitespace', `00- ${TID}-${SID}-01`],
    ['newline around the value', `\n${VALID}`],
    ['empty', ''],
    ['whitespace only', ' \t '],
    ['a number', 42],
    ['an object', { toString: () => VALID }],
    ['an array of a non-string', [42]],
    ['null', null],
  ];
  for (const [name, value] of invalid) {
    it(name, () => {
      const carrier = { traceparent: value, tracestate: 'foo=1' };
      expect(extract(carrier)).toBe(ROOT_CONTEXT);
      const out = service(carrier);
      expect(out.traceparent.slice(3, 35)).not.toBe(TID);
      // §3.3: "If the vendor failed to parse traceparent, it MUST NOT attempt to parse tracestate."
      expect(out.tracestate).toBeUndefined();
    });
  }

  it('ignores wrong header names (test_traceparent_header_name)', () => {
    expect(extract({ 'trace-parent': VALID })).toBe(ROOT_CONTEXT);
    expect(extract({ 'trace.parent': VALID })).toBe(ROOT_CONTEXT);
  });

  it('never throws, whatever the getter does', () => {
    const throwing: TextMapGetter = {
      get() {
        throw new Error('boom');
      },
      keys() {
        throw new Error('boom');
      },
    };
    expect(prop.extract(ROOT_CONTEXT, {}, throwing)).toBe(ROOT_CONTEXT);
    const carrier = Object.defineProperty({}, 'traceparent', {
      get() {
        throw new Error('getter');
      },
      enumerable: true,
    });
    expect(extract(carrier)).toBe(ROOT_CONTEXT);
    expect(prop.extract(ROOT_CONTEXT, null, defaultTextMapGetter)).toBe(ROOT_CONTEXT);
    expect(prop.extract(ROOT_CONTEXT, undefined, defaultTextMapGetter)).toBe(ROOT_CONTEXT);
    const keysNotArray: TextMapGetter = { get: () => undefined, keys: () => 'nope' as unknown as string[] };
    expect(prop.extract(ROOT_CONTEXT, {}, keysNotArray)).toBe(ROOT_CONTEXT);
  });

  it('keeps a valid traceparent when tracestate is unreadable', () => {
    const carrier = Object.defineProperty({ traceparent: VALID }, 'tracestate', {
      get() {
        throw new Error('getter');
      },
    });
    const sc = extracted(carrier);
    expect(sc?.traceId).toBe(TID);
    expect(sc?.traceState).toBeUndefined();
  });
});

describe('tracestate (strict, SPEC.md §4)', () => {
  const tp = `00-${TID}-${SID}-00`;

  it('is inherited with traceparent (test_tracestate_included_traceparent_included)', () => {
    const s = outState({ traceparent: tp, tracestate: 'foo=1,bar=2' });
    expect([...s]).toEqual([
      ['foo', '1'],
      ['bar', '2'],
    ]);
  });

  it('is discarded without traceparent (test_tracestate_included_traceparent_missing)', () => {
    expect(extract({ tracestate: 'foo=1' })).toBe(ROOT_CONTEXT);
  });

  it('ignores wrong header names (test_tracestate_header_name)', () => {
    expect(outState({ traceparent: tp, 'trace-state': 'foo=1' }).size).toBe(0);
    expect(outState({ traceparent: tp, 'trace.state': 'foo=1' }).size).toBe(0);
  });

  it('accepts an empty header and empty members, and sends none (test_tracestate_empty_header)', () => {
    expect(service({ traceparent: tp, tracestate: '' }).tracestate).toBeUndefined();
    expect(service({ traceparent: tp, tracestate: ' , ,\t,' }).tracestate).toBeUndefined();
    expect(service({ traceparent: tp, tracestate: ['foo=1', ''] }).tracestate).toBe('foo=1');
    expect(service({ traceparent: tp, tracestate: ['', 'foo=1'] }).tracestate).toBe('foo=1');
    expect(service({ traceparent: tp, tracestate: ',,foo=1,, ,bar=2,' }).tracestate).toBe('foo=1,bar=2');
  });

  it('combines repeated headers in order (test_tracestate_multiple_headers_different_keys)', () => {
    const ts = service({
      traceparent: tp,
      tracestate: ['foo=1,bar=2', 'rojo=1,congo=2', 'baz=3'],
    }).tracestate;
    expect(ts).toBe('foo=1,bar=2,rojo=1,congo=2,baz=3');
    // Node joins repeated headers with ", ".
    expect(service({ traceparent: tp, tracestate: 'foo=1,bar=2, rojo=1,congo=2, baz=3' }).tracestate).toBe(
      'foo=1,bar=2,rojo=1,congo=2,baz=3',
    );
  });

  it('accepts exactly 32 members and drops the whole header at 33 (test_tracestate_member_count_limit)', () => {
    const members = Array.from({ length: 33 }, (_, i) => `bar${String(i + 1).padStart(2, '0')}=${i + 1}`);
    const s32 = outState({ traceparent: tp, tracestate: members.slice(0, 32).join(',') });
    expect(s32.size).toBe(32);
    expect(s32.get('bar01')).toBe('1');
    expect(service({ traceparent: tp, tracestate: members.join(',') }).tracestate).toBeUndefined();
    // Split over several headers the limit applies to the combination.
    expect(
      service({ traceparent: tp, tracestate: [members.slice(0, 30).join(','), members.slice(30).join(',')] })
        .tracestate,
    ).toBeUndefined();
  });

  it('key grammar: a key may contain @ anywhere but not start with it (test_tracestate_key_illegal_vendor_format)', () => {
    expect([...outState({ traceparent: tp, tracestate: 'foo@=1,bar=2' })]).toEqual([
      ['foo@', '1'],
      ['bar', '2'],
    ]);
    expect(service({ traceparent: tp, tracestate: '@foo=1,bar=2' }).tracestate).toBeUndefined();
    expect(outState({ traceparent: tp, tracestate: 'foo@@bar=1,bar=2' }).get('foo@@bar')).toBe('1');
    expect(outState({ traceparent: tp, tracestate: 'foo@bar@baz=1,bar=2' }).get('foo@bar@baz')).toBe('1');
    expect(outState({ traceparent: tp, tracestate: '0foo=1' }).get('0foo')).toBe('1');
  });

  it('key length: 256 accepted, 257 drops the whole header (test_tracestate_key_length_limit)', () => {
    const k256 = 'z'.repeat(256);
    const ok = outState({ traceparent: tp, tracestate: ['foo=1', `${k256}=1`] });
    expect(ok.get('foo')).toBe('1');
    expect(ok.get(k256)).toBe('1');
    expect(
      service({ traceparent: tp, tracestate: ['foo=1', `${'z'.repeat(257)}=1`] }).tracestate,
    ).toBeUndefined();
    for (const key of [
      `${'t'.repeat(241)}@${'v'.repeat(14)}`,
      `${'t'.repeat(242)}@v`,
      `t@${'v'.repeat(15)}`,
    ]) {
      const s = outState({ traceparent: tp, tracestate: ['foo=1', `${key}=1`] });
      expect(s.get('foo')).toBe('1');
      expect(s.get(key)).toBe('1');
    }
    expect(
      service({ traceparent: tp, tracestate: ['foo=1', `${'t'.repeat(250)}@${'v'.repeat(7)}=1`] }).tracestate,
    ).toBeUndefined();
  });

  it('drops the whole header for an illegal key (test_tracestate_key_illegal_characters)', () => {
    for (const ts of ['foo =1', 'FOO=1', 'foo.bar=1', 'ok=1,Foo=2', 'ok=1,fo\to=2', 'ok=1,=2', 'ok=1,foo']) {
      expect(service({ traceparent: tp, tracestate: ts }).tracestate, ts).toBeUndefined();
    }
  });

  it('drops the whole header for an illegal value (test_tracestate_value_illegal_characters)', () => {
    for (const ts of [
      'foo=bar=baz',
      'foo=,bar=3',
      'bar=3,foo=',
      'foo=   ,bar=3',
      'foo=a\tb,bar=3',
      'foo=caf\u00e9,bar=3',
      'foo=\u0001,bar=3',
      `foo=${'v'.repeat(257)},bar=3`,
    ]) {
      expect(service({ traceparent: tp, tracestate: ts }).tracestate, JSON.stringify(ts)).toBeUndefined();
    }
    expect(outState({ traceparent: tp, tracestate: `foo=${'v'.repeat(256)}` }).get('foo')).toBe(
      'v'.repeat(256),
    );
  });

  it('treats trailing spaces as OWS, keeps leading spaces (test_tracestate_ows_handling, §3.3.1.3.2)', () => {
    for (const ts of ['foo=1 \t , \t bar=2, \t baz=3', 'foo=1\t \t,\t \tbar=2,\t \tbaz=3']) {
      expect(service({ traceparent: tp, tracestate: ts }).tracestate).toBe('foo=1,bar=2,baz=3');
    }
    for (const ts of [' foo=1', '\tfoo=1', 'foo=1 ', 'foo=1\t', '\t foo=1 \t']) {
      expect(service({ traceparent: tp, tracestate: ts }).tracestate).toBe('foo=1');
    }
    expect(service({ traceparent: tp, tracestate: 'foo= 1' }).tracestate).toBe('foo= 1');
  });

  it('a value can never end in a space: set() refuses it', () => {
    const ts = new TraceState('a=1');
    expect(ts.set('foo', 'bar ').serialize()).toBe('a=1');
    expect(ts.set('foo', ' bar').serialize()).toBe('foo= bar,a=1');
  });

  it('keeps the first of duplicate keys (test_tracestate_duplicated_keys, w3c/trace-context#477)', () => {
    expect(service({ traceparent: tp, tracestate: 'foo=1,foo=1' }).tracestate).toBe('foo=1');
    expect(service({ traceparent: tp, tracestate: 'foo=1,foo=2' }).tracestate).toBe('foo=1');
    expect(service({ traceparent: tp, tracestate: ['foo=1', 'foo=1'] }).tracestate).toBe('foo=1');
    expect(service({ traceparent: tp, tracestate: ['foo=1', 'foo=2'] }).tracestate).toBe('foo=1');
  });

  it('accepts every allowed character (test_tracestate_all_allowed_characters)', () => {
    const lc = 'abcdefghijklmnopqrstuvwxyz';
    const keyWithoutVendor = `${lc}0123456789_-*/`;
    const keyWithVendor = `${keyWithoutVendor}@a-z0-9_-*/`;
    let value = '';
    for (let c = 0x20; c <= 0x7e; c++) if (c !== 0x2c && c !== 0x3d) value += String.fromCharCode(c);
    for (const key of [keyWithoutVendor, keyWithVendor]) {
      expect(outState({ traceparent: tp, tracestate: `${key}=${value}` }).get(key)).toBe(value);
    }
  });

  it('drops tracestate, keeps traceparent, when tracestate is an array with a non-string', () => {
    const sc = extracted({ traceparent: tp, tracestate: ['foo=1', 7] });
    expect(sc?.traceId).toBe(TID);
    expect(sc?.traceState).toBeUndefined();
  });

  it('parses 1 MB tracestate headers in one linear pass', () => {
    expect(service({ traceparent: tp, tracestate: `a=1,${' '.repeat(1 << 20)},b=2` }).tracestate).toBe(
      'a=1,b=2',
    );
    expect(service({ traceparent: tp, tracestate: ','.repeat(1 << 20) }).tracestate).toBeUndefined();
    expect(service({ traceparent: tp, tracestate: `a=${'x'.repeat(1 << 20)}` }).tracestate).toBeUndefined();
    expect(service({ traceparent: tp, tracestate: `${'a'.repeat(1 << 20)}=1` }).tracestate).toBeUndefined();
  });

  it('does not attach a trace state when the header has no members', () => {
    expect(extracted({ traceparent: tp, tracestate: ' , ' })?.traceState).toBeUndefined();
  });
});

describe('inject', () => {
  const ctx = (sc: SpanContext) => trace.setSpanContext(ROOT_CONTEXT, sc);

  it('writes version 00 and tracestate only when non-empty', () => {
    const out: Record<string, string> = {};
    prop.inject(ctx({ traceId: TID, spanId: SID, traceFlags: 3 }), out, defaultTextMapSetter);
    expect(out).toEqual({ traceparent: `00-${TID}-${SID}-03` });
    prop.inject(
      ctx({ traceId: TID, spanId: SID, traceFlags: 1, traceState: new TraceState('') }),
      out,
      defaultTextMapSetter,
    );
    expect(out.tracestate).toBeUndefined();
    prop.inject(
      ctx({ traceId: TID, spanId: SID, traceFlags: 1, traceState: new TraceState('a=1').set('b', '2') }),
      out,
      defaultTextMapSetter,
    );
    expect(out.tracestate).toBe('b=2,a=1');
  });

  it('writes nothing for an invalid span context (uppercase, wrong length, all zero)', () => {
    for (const sc of [
      { traceId: TID.toUpperCase().replace('1', 'A'), spanId: SID, traceFlags: 1 },
      { traceId: TID.slice(1), spanId: SID, traceFlags: 1 },
      { traceId: '0'.repeat(32), spanId: SID, traceFlags: 1 },
      { traceId: TID, spanId: '0'.repeat(16), traceFlags: 1 },
    ]) {
      const out: Record<string, string> = {};
      prop.inject(ctx(sc), out, defaultTextMapSetter);
      expect(out).toEqual({});
    }
    const out: Record<string, string> = {};
    prop.inject(ROOT_CONTEXT, out, defaultTextMapSetter);
    expect(out).toEqual({});
  });

  it("re-validates another SDK's trace state before sending it", () => {
    const foreign = {
      get: () => undefined,
      set() {
        return this;
      },
      unset() {
        return this;
      },
      serialize: () => 'ok=1,Bad=2',
    };
    const out: Record<string, string> = {};
    prop.inject(
      ctx({ traceId: TID, spanId: SID, traceFlags: 1, traceState: foreign }),
      out,
      defaultTextMapSetter,
    );
    expect(out.traceparent).toBe(`00-${TID}-${SID}-01`);
    expect(out.tracestate).toBeUndefined();
    foreign.serialize = () => 'ok=1, b=2';
    prop.inject(
      ctx({ traceId: TID, spanId: SID, traceFlags: 1, traceState: foreign }),
      out,
      defaultTextMapSetter,
    );
    expect(out.tracestate).toBe('ok=1,b=2');
  });

  it('writes nothing when tracing is suppressed (same key as @opentelemetry/core)', async () => {
    const { suppressTracing } = await import('@opentelemetry/core');
    const out: Record<string, string> = {};
    prop.inject(
      suppressTracing(ctx({ traceId: TID, spanId: SID, traceFlags: 1 })),
      out,
      defaultTextMapSetter,
    );
    expect(out).toEqual({});
  });

  it('never throws when the setter throws', () => {
    const setter = {
      set() {
        throw new Error('read-only carrier');
      },
    };
    expect(() => prop.inject(ctx({ traceId: TID, spanId: SID, traceFlags: 1 }), {}, setter)).not.toThrow();
  });

  it('fields()', () => {
    expect(prop.fields()).toEqual(['traceparent', 'tracestate']);
  });
});

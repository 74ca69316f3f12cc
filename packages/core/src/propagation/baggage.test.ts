/**
 * W3C Baggage (SPEC.md §5): grammar, OWS, percent-encoding both ways, properties, limits (64
 * members, 8192 bytes, whole members only), malformed members dropped one by one, never throwing.
 */
import {
  type BaggageEntry,
  baggageEntryMetadataFromString,
  type Context,
  defaultTextMapGetter,
  defaultTextMapSetter,
  propagation,
  ROOT_CONTEXT,
  type TextMapGetter,
} from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { BAGGAGE_MAX_BYTES, encodeBaggageValue, W3CBaggagePropagator } from './baggage.js';
import { caseInsensitiveGetter } from './carrier.js';

const prop = new W3CBaggagePropagator();

function extract(header: unknown, getter: TextMapGetter = defaultTextMapGetter): Context {
  return prop.extract(ROOT_CONTEXT, { baggage: header }, getter);
}

/** Entries as `{ key: value }` plus `key;` → metadata string, in order. */
function entries(header: unknown): Array<[string, string, string?]> {
  const b = propagation.getBaggage(extract(header));
  if (!b) return [];
  return b
    .getAllEntries()
    .map(
      ([k, e]) =>
        (e.metadata ? [k, e.value, e.metadata.toString()] : [k, e.value]) as [string, string, string?],
    );
}

function inject(record: Record<string, BaggageEntry>): string | undefined {
  const out: Record<string, string> = {};
  prop.inject(
    propagation.setBaggage(ROOT_CONTEXT, propagation.createBaggage(record)),
    out,
    defaultTextMapSetter,
  );
  return out.baggage;
}

describe('extract', () => {
  it('reads k=v lists with OWS and splits on the first "="', () => {
    expect(entries('key1=value1, key2 = value2 ,\tkey3=value3=x==')).toEqual([
      ['key1', 'value1'],
      ['key2', 'value2'],
      ['key3', 'value3=x=='],
    ]);
  });

  it('reads the spec example with properties and keeps them as metadata', () => {
    expect(
      entries('key1=value1;property1;property2, key2 = value2, key3=value3; propertyKey=propertyValue'),
    ).toEqual([
      ['key1', 'value1', 'property1;property2'],
      ['key2', 'value2'],
      ['key3', 'value3', 'propertyKey=propertyValue'],
    ]);
    expect(entries('k=v ; p1 = x%20y ;p2')).toEqual([['k', 'v', 'p1=x%20y;p2']]);
  });

  it('percent-decodes values (UTF-8), keeps "+" literal', () => {
    expect(entries('userId=Am%C3%A9lie,serverNode=DF%2028,isProduction=false,plus=a+b')).toEqual([
      ['userId', 'Amélie'],
      ['serverNode', 'DF 28'],
      ['isProduction', 'false'],
      ['plus', 'a+b'],
    ]);
    expect(entries('k=%09%20%22%27%3B%3Dasdf%21%40%23%24%25%5E%26%2A%28%29')).toEqual([
      ['k', '\t "\';=asdf!@#$%^&*()'],
    ]);
    expect(entries('k=%f0%9f%98%80')).toEqual([['k', '😀']]);
  });

  it('replaces invalid UTF-8 with U+FFFD (W3C Baggage §3.3.1.3) and keeps a BOM', () => {
    expect(entries('a=%FF,b=x%C3,c=%EF%BB%BFz')).toEqual([
      ['a', '\uFFFD'],
      ['b', 'x\uFFFD'],
      ['c', '\uFEFFz'],
    ]);
  });

  it('drops malformed members one by one and keeps the good ones', () => {
    expect(
      entries(
        [
          'good1=1',
          'noequals',
          '=novalue',
          'bad key=1',
          'k\u00e9y=1',
          'quote="x"',
          'sp=a b',
          'bs=a\\b',
          'pct=100%',
          'pct2=%zz',
          'pct3=%4',
          'nonascii=caf\u00e9',
          'badprop=1;p q',
          'emptyprop=1;',
          'badpropval=1;p=a b',
          'good2=2',
        ].join(','),
      ),
    ).toEqual([
      ['good1', '1'],
      ['good2', '2'],
    ]);
  });

  it('accepts an empty value (value = *baggage-octet)', () => {
    expect(entries('a=,b= ')).toEqual([
      ['a', ''],
      ['b', ''],
    ]);
  });

  it('combines repeated headers and skips empty members', () => {
    expect(entries(['a=1', 'b=2, ,c=3', ''])).toEqual([
      ['a', '1'],
      ['b', '2'],
      ['c', '3'],
    ]);
    expect(entries(',,a=1,,')).toEqual([['a', '1']]);
  });

  it('keeps the first of duplicate keys', () => {
    expect(entries('a=1,a=2,b=3')).toEqual([
      ['a', '1'],
      ['b', '3'],
    ]);
  });

  it('stores "__proto__" as an ordinary key', () => {
    expect(entries('__proto__=x,constructor=y')).toEqual([
      ['__proto__', 'x'],
      ['constructor', 'y'],
    ]);
  });

  it('propagates 64 members and drops the 65th', () => {
    const members = Array.from({ length: 65 }, (_, i) => `k${i}=v${i}`);
    expect(entries(members.slice(0, 64).join(','))).toHaveLength(64);
    const got = entries(members.join(','));
    expect(got).toHaveLength(64);
    expect(got.at(-1)).toEqual(['k63', 'v63']);
    // Malformed members do not count.
    expect(entries(['bad', ...members.slice(0, 64)].join(','))).toHaveLength(64);
  });

  it('propagates 8192 bytes and never a partial member at 8193', () => {
    // a=<v>,b=<w>: 2 + len(v) + 1 + 2 + len(w) bytes.
    const v = 'x'.repeat(4000);
    const w8192 = 'y'.repeat(BAGGAGE_MAX_BYTES - 5 - v.length);
    const h8192 = `a=${v},b=${w8192}`;
    expect(h8192.length).toBe(8192);
    expect(entries(h8192).map(([k, val]) => [k, val.length])).toEqual([
      ['a', 4000],
      ['b', w8192.length],
    ]);
    const h8193 = `a=${v},b=${w8192}y`;
    expect(h8193.length).toBe(8193);
    expect(entries(h8193).map(([k]) => k)).toEqual(['a']);
    // A member that does not fit is skipped whole; a later one that fits is still taken.
    expect(entries(`${h8193},c=1`).map(([k]) => k)).toEqual(['a', 'c']);
    // The limit counts the size as it will be sent again: decoded then re-encoded.
    const single = `a=${'%41'.repeat(3000)}`;
    expect(entries(single)).toEqual([['a', 'A'.repeat(3000)]]);
  });

  it('returns the context unchanged when nothing valid is found, and never throws', () => {
    for (const h of [undefined, '', ' ', 'garbage', ',,,', 42, {}, [1, 2], null, ['=', ';']]) {
      expect(extract(h)).toBe(ROOT_CONTEXT);
    }
    const throwing: TextMapGetter = {
      get() {
        throw new Error('boom');
      },
      keys: () => [],
    };
    expect(prop.extract(ROOT_CONTEXT, {}, throwing)).toBe(ROOT_CONTEXT);
    expect(prop.extract(ROOT_CONTEXT, null, defaultTextMapGetter)).toBe(ROOT_CONTEXT);
  });

  it('handles 1 MB headers in one linear pass (a quadratic parser would hit the test timeout)', () => {
    const big = `${'a=1,'.repeat(10)}${' '.repeat(1 << 20)},x=${'%'.repeat(1 << 18)}`;
    expect(entries(big)).toHaveLength(1);
    // Many members, none with ';' or '%': each member's search must stop at the member's end.
    expect(entries('a=1,'.repeat(1 << 18))).toEqual([['a', '1']]);
    expect(entries('novalue,'.repeat(1 << 17))).toEqual([]);
    expect(entries(`k=v;${'p;'.repeat(1 << 18)}`)).toHaveLength(0);
    expect(entries(`${'x=%41,'.repeat(1 << 17)}`)).toEqual([['x', 'A']]);
  });

  it('reads a mixed-case header name from a non-HTTP carrier', () => {
    const ctx = prop.extract(ROOT_CONTEXT, { Baggage: 'a=1' }, caseInsensitiveGetter);
    expect(propagation.getBaggage(ctx)?.getEntry('a')?.value).toBe('1');
  });
});

describe('inject', () => {
  it('percent-encodes values: everything outside baggage-octet, and "%"', () => {
    expect(
      inject({ userId: { value: 'Amélie' }, serverNode: { value: 'DF 28' }, p: { value: '100%' } }),
    ).toBe('userId=Am%C3%A9lie,serverNode=DF%2028,p=100%25');
    expect(encodeBaggageValue('\t "\';=asdf!@#$%^&*()')).toBe("%09%20%22'%3B=asdf!@#$%25^&*()");
    expect(encodeBaggageValue('a,b\\c')).toBe('a%2Cb%5Cc');
    expect(encodeBaggageValue('plain-Value_1.2~')).toBe('plain-Value_1.2~');
  });

  it('round-trips any string value through inject then extract', () => {
    const values = ['', ' ', 'a b', '%', '%25', 'é😀', '\u0000\u007f', ',;=\\"', '\ud800', 'x'.repeat(100)];
    for (const value of values) {
      const header = inject({ k: { value } });
      const back = propagation.getBaggage(extract(header))?.getEntry('k')?.value;
      // A lone surrogate cannot be UTF-8 encoded: it becomes U+FFFD.
      expect(back).toBe(value === '\ud800' ? '\uFFFD' : value);
    }
  });

  it('sends metadata as properties', () => {
    expect(
      inject({ a: { value: '1', metadata: baggageEntryMetadataFromString('p1;p2=x') }, b: { value: '2' } }),
    ).toBe('a=1;p1;p2=x,b=2');
    // Metadata that is not a property list would corrupt the header: the entry goes without it.
    expect(inject({ a: { value: '1', metadata: baggageEntryMetadataFromString('x,y=1') } })).toBe('a=1');
  });

  it('skips keys that are not tokens', () => {
    expect(inject({ 'bad key': { value: '1' }, ok: { value: '2' }, 'caf\u00e9': { value: '3' } })).toBe(
      'ok=2',
    );
  });

  it('sends at most 64 members', () => {
    const record: Record<string, BaggageEntry> = {};
    for (let i = 0; i < 65; i++) record[`k${i}`] = { value: String(i) };
    const header = inject(record)!;
    expect(header.split(',')).toHaveLength(64);
    expect(header.endsWith('k63=63')).toBe(true);
  });

  it('sends at most 8192 bytes, whole members only', () => {
    const v = 'x'.repeat(4000);
    const w = 'y'.repeat(BAGGAGE_MAX_BYTES - 5 - v.length);
    expect(inject({ a: { value: v }, b: { value: w } })!.length).toBe(8192);
    expect(inject({ a: { value: v }, b: { value: `${w}y` } })).toBe(`a=${v}`);
    expect(inject({ a: { value: v }, b: { value: `${w}y` }, c: { value: '1' } })).toBe(`a=${v},c=1`);
    // Encoding counts: 'é' is 6 bytes on the wire.
    expect(inject({ a: { value: 'é'.repeat(1366) } })).toBeUndefined();
    expect(inject({ a: { value: 'é'.repeat(1365) } })!.length).toBe(2 + 6 * 1365);
  });

  it('writes nothing for empty baggage or when tracing is suppressed', async () => {
    expect(inject({})).toBeUndefined();
    const { suppressTracing } = await import('@opentelemetry/core');
    const out: Record<string, string> = {};
    const ctx = propagation.setBaggage(ROOT_CONTEXT, propagation.createBaggage({ a: { value: '1' } }));
    prop.inject(suppressTracing(ctx), out, defaultTextMapSetter);
    expect(out).toEqual({});
  });

  it('never throws when the setter throws', () => {
    const ctx = propagation.setBaggage(ROOT_CONTEXT, propagation.createBaggage({ a: { value: '1' } }));
    expect(() =>
      prop.inject(
        ctx,
        {},
        {
          set() {
            throw new Error('x');
          },
        },
      ),
    ).not.toThrow();
  });
});

/** The strict `TraceState` on its own: parsing, the API operations, the 32-member bound. */
import { describe, expect, it } from 'vitest';
import {
  isStrictTraceState,
  isValidTraceStateKey,
  isValidTraceStateValue,
  TraceState,
} from './trace-state.js';

describe('TraceState', () => {
  it('parses, gets and serialises in order', () => {
    const ts = new TraceState('rojo=00f067aa0ba902b7, congo=t61rcWkgMzE');
    expect(ts.get('rojo')).toBe('00f067aa0ba902b7');
    expect(ts.get('congo')).toBe('t61rcWkgMzE');
    expect(ts.get('nope')).toBeUndefined();
    expect(ts.size).toBe(2);
    expect(ts.serialize()).toBe('rojo=00f067aa0ba902b7,congo=t61rcWkgMzE');
  });

  it('gives an empty list for invalid input, and parse() tells invalid from empty', () => {
    for (const raw of ['@foo=1,bar=2', 'foo=,bar=3', 'foo=bar=baz', `${'a'.repeat(257)}=1`, 'FOO=1']) {
      expect(new TraceState(raw).serialize()).toBe('');
      expect(TraceState.parse(raw)).toBeUndefined();
    }
    expect(TraceState.parse('')?.size).toBe(0);
    expect(TraceState.parse(' , ')?.size).toBe(0);
  });

  it('set() adds to the front, replaces and moves an existing key, and is immutable', () => {
    const a = new TraceState('a=1,b=2,c=3');
    const b = a.set('b', 'x');
    expect(b.serialize()).toBe('b=x,a=1,c=3');
    expect(a.serialize()).toBe('a=1,b=2,c=3');
    expect(b.set('z', '9').serialize()).toBe('z=9,b=x,a=1,c=3');
  });

  it('set() with an invalid key or value changes nothing', () => {
    const a = new TraceState('a=1');
    for (const [k, v] of [
      ['A', '1'],
      ['@a', '1'],
      ['a'.repeat(257), '1'],
      ['k', ''],
      ['k', 'a,b'],
      ['k', 'a=b'],
      ['k', 'end '],
      ['k', 'tab\t'],
      ['k', 'é'],
      ['k', 'v'.repeat(257)],
    ]) {
      expect(a.set(k!, v!)).toBe(a);
    }
  });

  it('keeps at most 32 members: a 33rd set() drops the right-most (§3.3.1.1)', () => {
    let ts = new TraceState();
    for (let i = 0; i < 33; i++) ts = ts.set(`k${i}`, String(i));
    expect(ts.size).toBe(32);
    expect(ts.get('k0')).toBeUndefined();
    expect(ts.serialize().startsWith('k32=32,k31=31')).toBe(true);
  });

  it('unset() removes a key; absent keys return the same list', () => {
    const a = new TraceState('a=1,b=2');
    expect(a.unset('a').serialize()).toBe('b=2');
    expect(a.unset('zz')).toBe(a);
  });

  it('is recognised across copies by its brand', () => {
    expect(isStrictTraceState(new TraceState())).toBe(true);
    expect(isStrictTraceState({ serialize: () => '' })).toBe(false);
  });

  it('validators follow the W3C grammar', () => {
    expect(isValidTraceStateKey('0a@b/c*d-e_f')).toBe(true);
    expect(isValidTraceStateKey('')).toBe(false);
    expect(isValidTraceStateValue(' x')).toBe(true);
    expect(isValidTraceStateValue('x ')).toBe(false);
  });
});

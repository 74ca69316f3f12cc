/**
 * How propagation headers are written into undici's request object, for both shapes undici has
 * used: a flat `[name, value, ...]` array (undici 6 and 7, Node's bundled fetch) and a
 * `name: value\r\n` string (undici 5, still installed by some applications). A header of the same
 * name the caller set is replaced, never duplicated. (Real-network behaviour is in fetch.test.ts.)
 */
import { context, trace } from '@opentelemetry/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime } from './lifecycle.js';
import { normaliseOutgoingOptions } from './options.js';
import { installOfficialSdk, type OfficialSdk, parseTraceparent } from './test-support.js';
import { onUndiciCreate, onUndiciError } from './undici.js';

let sdk: OfficialSdk;
beforeAll(() => {
  sdk = installOfficialSdk();
});
afterAll(() => sdk.exporter.reset());

function inSpan<T>(fn: () => T): T {
  const parent = trace.getTracer('t').startSpan('parent');
  try {
    return context.with(trace.setSpan(context.active(), parent), fn);
  } finally {
    parent.end();
  }
}

describe('undici request headers', () => {
  it('array headers (undici ≥ 6): adds traceparent, replaces a caller-set one case-insensitively', () => {
    const rt = createRuntime(normaliseOutgoingOptions({}));
    const fresh = {
      origin: 'http://users:3000',
      path: '/a',
      method: 'GET',
      headers: ['accept', '*/*'] as string[],
      addHeader(k: string, v: string) {
        this.headers.push(k, v);
      },
    };
    const preset = {
      origin: 'http://users:3000',
      path: '/b',
      method: 'GET',
      headers: ['TraceParent', 'stale'] as string[],
      addHeader(k: string, v: string) {
        this.headers.push(k, v);
      },
    };
    inSpan(() => {
      onUndiciCreate(rt, { request: fresh });
      onUndiciCreate(rt, { request: preset });
    });
    expect(fresh.headers.slice(0, 2)).toEqual(['accept', '*/*']);
    expect(fresh.headers[2]).toBe('traceparent');
    expect(parseTraceparent(fresh.headers[3])).toBeDefined();
    expect(preset.headers).toHaveLength(2);
    expect(preset.headers[0]).toBe('TraceParent');
    expect(parseTraceparent(preset.headers[1])).toBeDefined();
    onUndiciError(rt, { request: fresh, error: new Error('x') });
    onUndiciError(rt, { request: preset, error: new Error('x') });
  });

  it('string headers (undici 5): replaces in place or appends through addHeader', () => {
    const rt = createRuntime(normaliseOutgoingOptions({}));
    const req = {
      origin: 'http://users:3000',
      path: '/c',
      method: 'GET',
      headers: 'accept: */*\r\ntraceparent: stale\r\n',
      addHeader(k: string, v: string) {
        this.headers += `${k}: ${v}\r\n`;
      },
    };
    inSpan(() => onUndiciCreate(rt, { request: req }));
    const lines = req.headers.split('\r\n').filter(Boolean);
    expect(lines.filter((l) => l.toLowerCase().startsWith('traceparent:'))).toHaveLength(1);
    expect(parseTraceparent(lines[1]?.slice('traceparent: '.length))).toBeDefined();
    expect(lines[0]).toBe('accept: */*');
  });

  it('a request object of an unknown shape is ignored without throwing', () => {
    const rt = createRuntime(normaliseOutgoingOptions({}));
    expect(() =>
      inSpan(() => {
        onUndiciCreate(rt, { request: { origin: 42, path: null } });
        onUndiciCreate(rt, null);
        onUndiciCreate(rt, { request: { origin: 'not a url', path: '/x', method: 'GET' } });
      }),
    ).not.toThrow();
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { errorTypeOf } from './server-tracing.js';
import {
  DEFAULT_REDACTED_QUERY_KEYS,
  parseClientAddress,
  parseForwarded,
  parseHostPort,
  parseScheme,
  redactQuery,
} from './request-attributes.js';

describe('parseForwarded (RFC 7239)', () => {
  it.each([
    ['for=192.0.2.60;proto=http;by=203.0.113.43', { for: '192.0.2.60', proto: 'http' }],
    ['For="[2001:db8:cafe::17]:4711"', { for: '[2001:db8:cafe::17]:4711' }],
    ['for=192.0.2.43, for=198.51.100.17;host=b.example', { for: '192.0.2.43', host: 'b.example' }],
    ['host="a.example:8080" ; proto=HTTPS', { host: 'a.example:8080', proto: 'HTTPS' }],
    ['for="quoted \\"escaped\\""', { for: 'quoted "escaped"' }],
  ])('%s', (header, expected) => {
    expect(parseForwarded(header)).toEqual(expected);
  });

  it.each([['garbage'], [''], ['for=;host='], ['host="unterminated'], ['=value']])(
    'finds nothing usable in %j',
    (header) => {
      const r = parseForwarded(header);
      expect(r?.host).toBeUndefined();
    },
  );

  it('skips a malformed pair and keeps the valid ones', () => {
    expect(parseForwarded('junk;for=10.0.0.1;host="x.example"trailing, proto=https')).toEqual({
      for: '10.0.0.1',
      host: 'x.example',
      proto: 'https',
    });
  });

  it('never throws and never returns a non-string field, whatever the input', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (s) => {
        const r = parseForwarded(s);
        for (const v of Object.values(r ?? {})) expect(typeof v).toBe('string');
      }),
    );
  });
});

describe('parseHostPort', () => {
  it.each([
    ['example.com', { address: 'example.com', port: undefined }],
    ['example.com:8080', { address: 'example.com', port: 8080 }],
    ['example.com:', { address: 'example.com', port: undefined }],
    ['[::1]:8080', { address: '::1', port: 8080 }],
    ['[::1]', { address: '::1', port: undefined }],
    ['[2001:db8::1]:443', { address: '2001:db8::1', port: 443 }],
    ['::1', { address: '::1', port: undefined }],
    [' 10.0.0.1:80 ', { address: '10.0.0.1', port: 80 }],
  ])('%j', (raw, expected) => {
    expect(parseHostPort(raw)).toEqual(expected);
  });

  it.each([
    ['example.com:99999'],
    ['example.com:0'],
    ['example.com:8o'],
    ['[::1'],
    ['[::1]x'],
    ['[]:80'],
    ['a b'],
    ['a/b'],
    ['user@host'],
    [''],
    ['x'.repeat(400)],
    ['h\u00e9llo'],
  ])('rejects %j', (raw) => {
    expect(parseHostPort(raw)).toBeUndefined();
  });
});

describe('parseClientAddress', () => {
  it.each([
    ['192.0.2.60', '192.0.2.60'],
    ['192.0.2.60:4711', '192.0.2.60'],
    ['[2001:db8:cafe::17]:4711', '2001:db8:cafe::17'],
    ['2001:db8:cafe::17', '2001:db8:cafe::17'],
    ['_hidden', '_hidden'],
    ['unknown', undefined],
    ['UNKNOWN', undefined],
    ['', undefined],
    ['[]', undefined],
    ['bad value', undefined],
  ])('%j → %j', (raw, expected) => {
    expect(parseClientAddress(raw)).toBe(expected);
  });
});

describe('parseScheme', () => {
  it('accepts http and https in any case and rejects anything else', () => {
    expect(parseScheme('HTTPS')).toBe('https');
    expect(parseScheme(' http ')).toBe('http');
    expect(parseScheme('ws')).toBeUndefined();
    expect(parseScheme('a')).toBeUndefined();
    expect(parseScheme('no scheme')).toBeUndefined();
    expect(parseScheme('')).toBeUndefined();
  });
});

describe('redactQuery', () => {
  const keys = new Set([...DEFAULT_REDACTED_QUERY_KEYS, 'token']);
  it('returns the same string when nothing is sensitive', () => {
    const q = 'a=1&b=2&c';
    expect(redactQuery(q, keys)).toBe(q);
  });
  it('keeps repeated keys, empty values and key-only members in place', () => {
    expect(redactQuery('sig=1&sig=2&token=&x&=v', keys)).toBe(
      'sig=REDACTED&sig=REDACTED&token=REDACTED&x&=v',
    );
  });
  it('catches percent-encoded keys and survives malformed encodings', () => {
    expect(redactQuery('%73ig=1&%E0%A4%A=2', keys)).toBe('%73ig=REDACTED&%E0%A4%A=2');
  });
  it('never leaks a sensitive value, whatever surrounds it', () => {
    fc.assert(
      fc.property(
        fc.array(fc.stringMatching(/^[a-z0-9=%]{0,8}$/), { maxLength: 6 }),
        fc.constantFrom(...DEFAULT_REDACTED_QUERY_KEYS),
        (others, key) => {
          const secret = 'S3CR3TVALUE';
          const q = [...others, `${key}=${secret}`, ...others].join('&');
          expect(redactQuery(q, keys)).not.toContain(secret);
        },
      ),
    );
  });
});

describe('errorTypeOf', () => {
  it('names the class, falls back to Error, and uses _OTHER for non-Errors', () => {
    class PaymentDeclined extends Error {}
    expect(errorTypeOf(new PaymentDeclined('x'))).toBe('PaymentDeclined');
    expect(errorTypeOf(new TypeError('x'))).toBe('TypeError');
    const anonymous = new (class extends Error {})('x');
    expect(errorTypeOf(anonymous)).toBe('Error');
    const noCtor = Object.assign(Object.create(null), { message: 'm', stack: 's' });
    expect(errorTypeOf(noCtor)).toBe('Error');
    expect(errorTypeOf('boom')).toBe('_OTHER');
    expect(errorTypeOf(42)).toBe('_OTHER');
    expect(errorTypeOf({ code: 'E' })).toBe('_OTHER');
    expect(errorTypeOf(null)).toBe('_OTHER');
  });
});

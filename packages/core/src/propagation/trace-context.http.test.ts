/**
 * The W3C harness cases that depend on how HTTP delivers headers (repeated headers, casing, OWS),
 * over real HTTP/1.1 on 127.0.0.1: a raw socket sends exactly the header lines of the W3C test
 * suite, a `node:http` server extracts from `req.headers` with the default getter, makes a child
 * span context and answers with the headers it would send downstream.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import {
  defaultTextMapGetter,
  defaultTextMapSetter,
  ROOT_CONTEXT,
  type SpanContext,
  trace,
} from '@opentelemetry/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { W3CTraceContextPropagator } from './trace-context.js';

const prop = new W3CTraceContextPropagator();
const TID = '12345678901234567890123456789012';
const TP = `00-${TID}-1234567890123456-00`;
let server: Server;
let port: number;

beforeAll(async () => {
  server = createServer((req, res) => {
    const parent = trace.getSpanContext(prop.extract(ROOT_CONTEXT, req.headers, defaultTextMapGetter));
    const child: SpanContext = parent
      ? { ...parent, spanId: randomBytes(8).toString('hex'), isRemote: false }
      : { traceId: randomBytes(16).toString('hex'), spanId: randomBytes(8).toString('hex'), traceFlags: 3 };
    const out: Record<string, string> = {};
    prop.inject(trace.setSpanContext(ROOT_CONTEXT, child), out, defaultTextMapSetter);
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(out));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

/** Send raw header lines, return what the service would send downstream. */
function send(headers: Array<[string, string]>): Promise<{ traceparent: string; tracestate?: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let data = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk) => {
      data += chunk;
    });
    socket.on('error', reject);
    socket.on('end', () => {
      const body = data.slice(data.indexOf('\r\n\r\n') + 4);
      try {
        resolve(JSON.parse(body));
      } catch (err) {
        reject(new Error(`bad response ${JSON.stringify(data)}: ${String(err)}`));
      }
    });
    const lines = headers.map(([k, v]) => `${k}: ${v}\r\n`).join('');
    socket.write(`GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n${lines}\r\n`);
  });
}

describe('W3C trace context over real HTTP', () => {
  it('restarts the trace for two traceparent headers (test_traceparent_duplicated)', async () => {
    const out = await send([
      ['traceparent', '00-12345678901234567890123456789011-1234567890123456-01'],
      ['traceparent', '00-12345678901234567890123456789012-1234567890123456-01'],
    ]);
    expect(out.traceparent.slice(3, 35)).not.toBe('12345678901234567890123456789011');
    expect(out.traceparent.slice(3, 35)).not.toBe('12345678901234567890123456789012');
  });

  it('restarts the trace for two identical traceparent headers', async () => {
    const out = await send([
      ['traceparent', TP],
      ['traceparent', TP],
    ]);
    expect(out.traceparent.slice(3, 35)).not.toBe(TID);
  });

  it('reads any header-name casing (test_traceparent_header_name_valid_casing)', async () => {
    for (const name of ['TraceParent', 'TrAcEpArEnT', 'TRACEPARENT']) {
      expect((await send([[name, TP]])).traceparent.slice(3, 35)).toBe(TID);
    }
    expect(
      (
        await send([
          ['traceparent', TP],
          ['TrAcEsTaTe', 'foo=1'],
        ])
      ).tracestate,
    ).toBe('foo=1');
  });

  it('tolerates OWS (test_traceparent_ows_handling)', async () => {
    for (const v of [` ${TP}`, `\t${TP}`, `${TP} `, `${TP}\t`, `\t ${TP} \t`]) {
      expect((await send([['traceparent', v]])).traceparent.slice(3, 35)).toBe(TID);
    }
  });

  it('combines repeated tracestate headers in order (test_tracestate_multiple_headers_different_keys)', async () => {
    const out = await send([
      ['traceparent', TP],
      ['tracestate', 'foo=1,bar=2'],
      ['tracestate', 'rojo=1,congo=2'],
      ['tracestate', 'baz=3'],
    ]);
    expect(out.tracestate).toBe('foo=1,bar=2,rojo=1,congo=2,baz=3');
  });

  it('applies the 32-member limit to the combined headers (test_tracestate_member_count_limit)', async () => {
    const m = (from: number, to: number) =>
      Array.from({ length: to - from + 1 }, (_, i) => {
        const n = String(from + i).padStart(2, '0');
        return `bar${n}=${n}`;
      }).join(',');
    const base: Array<[string, string]> = [
      ['traceparent', TP],
      ['tracestate', m(1, 10)],
      ['tracestate', m(11, 20)],
      ['tracestate', m(21, 30)],
    ];
    const ok = await send([...base, ['tracestate', m(31, 32)]]);
    expect(ok.tracestate?.split(',')).toHaveLength(32);
    const over = await send([...base, ['tracestate', m(31, 33)]]);
    expect(over.traceparent.slice(3, 35)).toBe(TID);
    expect(over.tracestate).toBeUndefined();
  });

  it('drops the whole tracestate when a 257-character key arrives in a second header (test_tracestate_key_length_limit)', async () => {
    const out = await send([
      ['traceparent', TP],
      ['tracestate', 'foo=1'],
      ['tracestate', `${'z'.repeat(257)}=1`],
    ]);
    expect(out.tracestate).toBeUndefined();
  });

  it('keeps one of duplicate keys split over two headers (test_tracestate_duplicated_keys)', async () => {
    const out = await send([
      ['traceparent', TP],
      ['tracestate', 'foo=1'],
      ['tracestate', 'foo=2'],
    ]);
    expect(out.tracestate).toBe('foo=1');
  });

  it('accepts an empty tracestate header next to a valid one (test_tracestate_empty_header)', async () => {
    expect(
      (
        await send([
          ['traceparent', TP],
          ['tracestate', ''],
          ['tracestate', 'foo=1'],
        ])
      ).tracestate,
    ).toBe('foo=1');
    expect(
      (
        await send([
          ['traceparent', TP],
          ['tracestate', 'foo=1'],
          ['tracestate', ''],
        ])
      ).tracestate,
    ).toBe('foo=1');
  });
});

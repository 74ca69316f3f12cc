// Adversarial HTTP requests for the "bad input never breaks a request" suite, and a raw HTTP/1.1
// client (net.connect) that can send any bytes at all. Shared by the short form
// (apps/bench/test/bad-input.test.ts) and the long form's worst-case timings.
import { connect } from 'node:net';

const TP = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
const repeat = (n, f) => Array.from({ length: n }, (_, i) => f(i));

/** A tracestate of about `bytes` bytes made of valid-looking members (far more than the 32 allowed). */
function bigTraceState(bytes) {
  const members = [];
  let size = 0;
  for (let i = 0; size < bytes; i++) {
    const m = `k${i}=v${'x'.repeat(20)}`;
    members.push(m);
    size += m.length + 1;
  }
  return members.join(',');
}

/**
 * Each case: { name, method?, target?, headers: [name, value (string or Buffer)][] }. Values are
 * written as given (strings as latin1, so a test controls every byte).
 */
export function adversarialCases() {
  const MB = 1024 * 1024;
  return [
    {
      name: '1 MB tracestate (valid traceparent)',
      headers: [
        ['traceparent', TP],
        ['tracestate', bigTraceState(MB)],
      ],
    },
    {
      name: '10,000 baggage members',
      headers: [['baggage', repeat(10_000, (i) => `key${i}=value${i}`).join(',')]],
    },
    {
      name: '10,000 baggage members with properties, in 100 headers',
      headers: repeat(100, (h) => ['baggage', repeat(100, (i) => `k${h}_${i}=v;p${i};q=${i}`).join(',')]),
    },
    {
      name: 'repeated traceparent',
      headers: [
        ['traceparent', TP],
        ['traceparent', TP.replace('01', '00')],
      ],
    },
    { name: '100 tracestate headers', headers: repeat(100, (i) => ['tracestate', `k${i}=v${i}`]) },
    {
      name: 'binary / invalid UTF-8 in trace headers',
      headers: [
        ['traceparent', Buffer.from([0x30, 0x30, 0x2d, 0xc3, 0x28, 0xff, 0xfe, 0x80, 0x2d])],
        ['tracestate', Buffer.from([0x6b, 0x3d, 0xe2, 0x82, 0x28, 0xa1])],
        ['baggage', Buffer.from([0x6b, 0x3d, 0xf0, 0x9f, 0x98, 0xc0, 0x25, 0xe2, 0x82])],
        ['b3', Buffer.from([0xff, 0xfe, 0xfd])],
      ],
    },
    {
      name: 'unicode in trace headers, Host and Forwarded',
      headers: [
        ['traceparent', Buffer.from(`00-${'é'.repeat(16)}-${'ü'.repeat(8)}-01`, 'utf8')],
        ['baggage', Buffer.from('ключ=значение,🔑=%F0%9F%94%91,k=%E2%82%AC', 'utf8')],
        ['forwarded', Buffer.from('for="[::1]";host=münchen.example;proto=https', 'utf8')],
        ['x-forwarded-host', Buffer.from('日本.example', 'utf8')],
      ],
    },
    {
      name: 'malformed Forwarded',
      headers: [['forwarded', 'for="unterminated;proto=;;;,,,host=[::1;for=;=;===;"";proto=gopher']],
    },
    {
      name: 'Forwarded chain of 50,000 elements (~1 MB)',
      headers: [['forwarded', repeat(50_000, (i) => `for=10.0.${i % 255}.${i % 250};proto=http`).join(', ')]],
    },
    {
      name: 'Forwarded with 1 MB of quotes and escapes',
      headers: [['forwarded', `for="${'\\"'.repeat(MB / 2)}`]],
    },
    {
      name: 'X-Forwarded-For with 100,000 hops',
      headers: [['x-forwarded-for', repeat(100_000, (i) => `10.1.${i % 255}.1`).join(', ')]],
    },
    { name: 'hostile Host: 1 MB of colons', headers: [['host', ':'.repeat(MB)]], replaceHost: true },
    { name: 'hostile Host: 1 MB name', headers: [['host', `${'a'.repeat(MB)}:80`]], replaceHost: true },
    {
      name: 'hostile Host: brackets, bad port, markup',
      headers: [['host', '[::1:99999<script>']],
      replaceHost: true,
    },
    {
      name: 'X-Forwarded-Host: IPv6-like backtracking bait',
      headers: [
        ['x-forwarded-host', `[${'0:'.repeat(5000)}x]`],
        ['x-forwarded-for', `${'1:'.repeat(20_000)}z`],
      ],
    },
    { name: 'user-agent of 1 MB', headers: [['user-agent', 'U'.repeat(MB)]] },
    { name: '1,500 headers', headers: repeat(1500, (i) => [`x-h${i}`, `v${i}`]) },
    { name: 'absurd method (PROPFIND)', method: 'PROPFIND', headers: [] },
    { name: 'absurd method (M-SEARCH)', method: 'M-SEARCH', headers: [] },
    { name: 'unknown method (BREW)', method: 'BREW', headers: [] },
    { name: 'asterisk target', method: 'OPTIONS', target: '*', headers: [] },
    {
      name: 'absolute-form target',
      target: 'http://evil.example:1/a/b?X-Amz-Signature=s3cr3t&x=1',
      headers: [],
    },
    { name: 'path of 1 MB', target: `/${'p/'.repeat(MB / 2)}`, headers: [] },
    {
      name: 'query with 100,000 pairs',
      target: `/q?${repeat(100_000, (i) => `a${i}=b`).join('&')}`,
      headers: [],
    },
    {
      name: 'percent garbage in path and query',
      target: '/%ff%fe%zz/%00?%zz=%&X-Amz-Signature%=1&sig',
      headers: [],
    },
    {
      name: 'b3 garbage',
      headers: [
        ['b3', '-'.repeat(10_000)],
        ['x-b3-traceid', 'z'.repeat(5000)],
        ['x-b3-sampled', '2'],
      ],
    },
  ];
}

/** The request bytes: request line, Host (unless the case replaces it), headers, `Connection: close`. */
export function requestBytes(c, port) {
  const parts = [Buffer.from(`${c.method ?? 'GET'} ${c.target ?? '/users/42?x=1'} HTTP/1.1\r\n`, 'latin1')];
  if (!c.replaceHost) parts.push(Buffer.from(`Host: 127.0.0.1:${port}\r\n`, 'latin1'));
  for (const [name, value] of c.headers) {
    parts.push(Buffer.from(`${name}: `, 'latin1'));
    parts.push(Buffer.isBuffer(value) ? value : Buffer.from(value, 'latin1'));
    parts.push(Buffer.from('\r\n', 'latin1'));
  }
  parts.push(Buffer.from('Connection: close\r\n\r\n', 'latin1'));
  return Buffer.concat(parts);
}

/**
 * Sends raw bytes on a new connection and reads until the server closes it. Resolves with the
 * status code of the first response (undefined when the server closed without answering), the
 * response head, and the time from the first byte sent to the end.
 */
export function rawRequest(port, bytes, timeoutMs = 30_000) {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const chunks = [];
    const socket = connect(port, '127.0.0.1');
    let done = false;
    const finish = (error) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      const text = Buffer.concat(chunks).toString('latin1');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      resolve({
        status: m ? Number(m[1]) : undefined,
        head: text.slice(0, Math.max(0, text.indexOf('\r\n\r\n'))),
        body: text.slice(text.indexOf('\r\n\r\n') + 4),
        ms: performance.now() - t0,
        error,
      });
    };
    const timer = setTimeout(() => finish('timeout'), timeoutMs);
    socket.on('data', (d) => chunks.push(d));
    socket.on('end', () => finish());
    socket.on('close', () => finish());
    // The server may answer (431, 400) and close before it has read everything we send.
    socket.on('error', (e) => (chunks.length ? finish() : finish(e.code ?? e.message)));
    socket.end(bytes);
  });
}

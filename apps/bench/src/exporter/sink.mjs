// The exporter benchmark's OTLP sink: a tiny node:http server in its own process that accepts
// OTLP/HTTP protobuf trace exports and counts spans by walking the wire format
// (ExportTraceServiceRequest.resource_spans = 1 > ResourceSpans.scope_spans = 2 > ScopeSpans.spans = 2).
// Prints its port on stdout. GET /count -> {"spans":n,"requests":n}; POST /reset zeroes the counters.
import { createServer } from 'node:http';
import { gunzipSync } from 'node:zlib';

function varint(buf, pos) {
  let result = 0;
  let mul = 1;
  for (;;) {
    const b = buf[pos.i++];
    if (b === undefined) throw new Error('truncated varint');
    result += (b & 0x7f) * mul;
    if (b < 0x80) return result;
    mul *= 128;
  }
}

function eachLenField(buf, start, end, field, fn) {
  const pos = { i: start };
  while (pos.i < end) {
    const tag = varint(buf, pos);
    const wire = tag & 7;
    if (wire === 2) {
      const len = varint(buf, pos);
      if (tag >>> 3 === field) fn(pos.i, pos.i + len);
      pos.i += len;
    } else if (wire === 0) varint(buf, pos);
    else if (wire === 1) pos.i += 8;
    else if (wire === 5) pos.i += 4;
    else throw new Error(`wire type ${wire}`);
  }
}

export function countSpans(buf) {
  let n = 0;
  eachLenField(buf, 0, buf.length, 1, (s, e) =>
    eachLenField(buf, s, e, 2, (s2, e2) =>
      eachLenField(buf, s2, e2, 2, () => {
        n++;
      }),
    ),
  );
  return n;
}

let spans = 0;
let requests = 0;
let bad = 0;
const server = createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/count') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ spans, requests, bad }));
    return;
  }
  if (req.url === '/reset') {
    spans = 0;
    requests = 0;
    bad = 0;
    res.end('ok');
    return;
  }
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    requests++;
    try {
      let body = Buffer.concat(chunks);
      if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
      spans += countSpans(body);
    } catch {
      bad++;
    }
    res.writeHead(200, { 'content-type': 'application/x-protobuf' });
    res.end();
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${server.address().port}\n`);
});
process.on('SIGTERM', () => process.exit(0));

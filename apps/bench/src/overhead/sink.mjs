// A minimal OTLP/HTTP sink for the benchmarks, in its own process: it accepts trace exports,
// counts the spans in each (walking the protobuf wire format just far enough to count
// ResourceSpans > ScopeSpans > Span, or JSON.parse for JSON) and answers 200 with an empty
// ExportTraceServiceResponse. `GET /count` returns {spans, requests, bytes}; `POST /reset` zeroes them.
import { createServer } from 'node:http';
import { gunzipSync } from 'node:zlib';

let spans = 0;
let requests = 0;
let bytes = 0;

function varint(buf, pos) {
  let result = 0;
  let shift = 0;
  for (;;) {
    const b = buf[pos.i++];
    if (b === undefined) throw new Error('truncated varint');
    result += (b & 0x7f) * 2 ** shift;
    if (b < 0x80) return result;
    shift += 7;
  }
}

/** Calls onField(fieldNumber, start, end) for every length-delimited field of the message in [start, end). */
function fields(buf, start, end, onField) {
  const pos = { i: start };
  while (pos.i < end) {
    const tag = varint(buf, pos);
    const wire = tag & 7;
    const field = tag >>> 3;
    if (wire === 2) {
      const len = varint(buf, pos);
      onField(field, pos.i, pos.i + len);
      pos.i += len;
    } else if (wire === 0) varint(buf, pos);
    else if (wire === 1) pos.i += 8;
    else if (wire === 5) pos.i += 4;
    else throw new Error(`wire type ${wire}`);
  }
}

function countProtobuf(buf) {
  let n = 0;
  // ExportTraceServiceRequest.resource_spans = 1; ResourceSpans.scope_spans = 2; ScopeSpans.spans = 2
  fields(buf, 0, buf.length, (f, s, e) => {
    if (f !== 1) return;
    fields(buf, s, e, (f2, s2, e2) => {
      if (f2 !== 2) return;
      fields(buf, s2, e2, (f3) => {
        if (f3 === 2) n++;
      });
    });
  });
  return n;
}

const server = createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/count') {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ spans, requests, bytes }));
    return;
  }
  if (req.method === 'POST' && req.url === '/reset') {
    spans = requests = bytes = 0;
    res.end('{}');
    return;
  }
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    let body = Buffer.concat(chunks);
    bytes += body.length;
    requests++;
    try {
      if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
      if (String(req.headers['content-type']).includes('json')) {
        const j = JSON.parse(body.toString('utf8'));
        for (const rs of j.resourceSpans ?? [])
          for (const ss of rs.scopeSpans ?? []) spans += ss.spans?.length ?? 0;
        res.setHeader('content-type', 'application/json');
        res.end('{}');
      } else {
        spans += countProtobuf(body);
        res.setHeader('content-type', 'application/x-protobuf');
        res.end();
      }
    } catch (e) {
      res.statusCode = 400;
      res.end(String(e));
    }
  });
});

server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`);
});
process.once('SIGTERM', () => process.exit(0));

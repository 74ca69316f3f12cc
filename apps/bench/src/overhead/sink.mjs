// A minimal OTLP/HTTP sink for the benchmarks, in its own process: it accepts trace exports, counts
// their spans and answers 200 with an empty ExportTraceServiceResponse.
// `GET /count` returns {spans, requests, bytes, byPath} (spans per request path, so several servers
// can share one sink: each exports to its own path); `POST /reset` zeroes them.
import { createServer } from 'node:http';
import { countSpans } from '../otlp-count.mjs';

let spans = 0;
let requests = 0;
let bytes = 0;
let byPath = {};

const server = createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/count') {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ spans, requests, bytes, byPath }));
    return;
  }
  if (req.method === 'POST' && req.url === '/reset') {
    spans = requests = bytes = 0;
    byPath = {};
    res.end('{}');
    return;
  }
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    bytes += body.length;
    requests++;
    try {
      const n = countSpans(body, req.headers);
      spans += n;
      const path = String(req.url).split('?')[0];
      byPath[path] = (byPath[path] ?? 0) + n;
      const json = String(req.headers['content-type']).includes('json');
      res.setHeader('content-type', json ? 'application/json' : 'application/x-protobuf');
      res.end(json ? '{}' : undefined);
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

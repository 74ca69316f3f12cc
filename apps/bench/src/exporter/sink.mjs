// The exporter benchmark's OTLP sink: a tiny node:http server in its own process that accepts
// OTLP/HTTP protobuf trace exports and counts their spans (otlp-count.mjs, shared with the other sinks).
// Prints its port on stdout. GET /count -> {"spans":n,"requests":n}; POST /reset zeroes the counters.
import { createServer } from 'node:http';
import { countSpans } from '../otlp-count.mjs';

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
      spans += countSpans(Buffer.concat(chunks), req.headers);
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

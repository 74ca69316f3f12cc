// A controllable OTLP/HTTP collector for the fault-injection suite, in its own process.
// It prints {"port": <otlp port>, "control": <control port>} when ready.
//
// Control API (always up, separate port):
//   POST /mode?m=<mode>[&delay=ms][&retryAfter=v]   switch behaviour
//   GET  /count                                     {spans, requests, statuses, mode}
//   POST /reset                                     zero the counters
//   GET  /attempts                                  per request body: arrival times and outcomes
//                                                   (a retry re-sends the same bytes, so one body is
//                                                   one export; used to check the retry rules)
// Modes: ok | down (listener closed: connection refused) | slow (answer 200 after `delay` ms) |
//        503 | 429 (with Retry-After when given) | 400 | 500 | hang (accept, never answer) |
//        reset (destroy the connection mid-body)
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import { countSpans } from '../otlp-count.mjs';

let mode = 'ok';
let delay = 0;
let retryAfter;
let spans = 0;
let requests = 0;
const statuses = {};
const sockets = new Set();
/** Requests that arrived, whatever became of them (reset and hang included). */
let arrivals = 0;
/** Spans of 200 answers the exporter had already given up on (slow mode): not counted as received. */
let abandonedSpans = 0;
/** body identity (hash of the first chunk) -> { times: [ms], outcomes: [mode the attempt arrived in] } */
const attempts = new Map();
const MAX_TRACKED_BODIES = 5000;
function track(chunk, outcome) {
  const key = createHash('sha1').update(chunk).digest('hex');
  let a = attempts.get(key);
  if (!a) {
    if (attempts.size >= MAX_TRACKED_BODIES) attempts.delete(attempts.keys().next().value);
    a = { times: [], outcomes: [] };
    attempts.set(key, a);
  }
  a.times.push(Date.now());
  a.outcomes.push(outcome);
}

const otlp = createServer((req, res) => {
  arrivals++;
  if (mode === 'reset') {
    // Read a little of the body, then cut the connection in the middle of it.
    req.once('data', (c) => {
      track(c, 'reset');
      req.socket.destroy();
    });
    req.once('end', () => req.socket.destroy());
    return;
  }
  const chunks = [];
  const arrivedIn = mode;
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    requests++;
    const answer = (status, headers = {}) => {
      if (res.destroyed || req.socket.destroyed) {
        // The client gave up first (slow mode past its deadline): nothing was delivered.
        try {
          abandonedSpans += countSpans(Buffer.concat(chunks), req.headers);
        } catch {}
        statuses.abandoned = (statuses.abandoned ?? 0) + 1;
        return;
      }
      statuses[status] = (statuses[status] ?? 0) + 1;
      if (status === 200) {
        try {
          spans += countSpans(Buffer.concat(chunks), req.headers);
        } catch {
          status = 400;
        }
      }
      res.writeHead(status, { 'content-type': 'application/x-protobuf', ...headers });
      res.end();
    };
    // Recorded when the whole body has arrived, with the mode it arrived in.
    if (chunks.length > 0) track(chunks[0], arrivedIn);
    switch (mode) {
      case 'hang':
        return;
      case 'slow':
        setTimeout(() => answer(200), delay);
        return;
      case '503':
      case '429':
        answer(Number(mode), retryAfter === undefined ? {} : { 'retry-after': retryAfter });
        return;
      case '400':
      case '500':
        answer(Number(mode));
        return;
      default:
        answer(200);
    }
  });
});
otlp.on('connection', (s) => {
  sockets.add(s);
  s.on('close', () => sockets.delete(s));
});

let otlpPort = Number(process.env.PORT ?? 0);
const listen = () => new Promise((resolve) => otlp.listen(otlpPort, '127.0.0.1', resolve));
const unlisten = () =>
  new Promise((resolve) => {
    for (const s of sockets) s.destroy();
    otlp.close(() => resolve());
  });

const control = createServer(async (req, res) => {
  const url = new URL(req.url, 'http://x');
  if (req.method === 'GET' && url.pathname === '/count') {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ spans, requests, statuses, mode, arrivals, abandonedSpans }));
    return;
  }
  if (req.method === 'GET' && url.pathname === '/attempts') {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify([...attempts.values()]));
    return;
  }
  if (req.method === 'POST' && url.pathname === '/reset') {
    spans = requests = arrivals = abandonedSpans = 0;
    attempts.clear();
    for (const k of Object.keys(statuses)) delete statuses[k];
    res.end('{}');
    return;
  }
  if (req.method === 'POST' && url.pathname === '/mode') {
    const next = url.searchParams.get('m') ?? 'ok';
    delay = Number(url.searchParams.get('delay') ?? 0);
    retryAfter = url.searchParams.get('retryAfter') ?? undefined;
    if (next === 'down' && mode !== 'down') await unlisten();
    if (next !== 'down' && mode === 'down') await listen();
    if (next !== 'hang' && mode === 'hang') for (const s of sockets) s.destroy();
    mode = next;
    res.end(JSON.stringify({ mode }));
    return;
  }
  res.statusCode = 404;
  res.end();
});

await listen();
otlpPort = otlp.address().port;
await new Promise((resolve) => control.listen(0, '127.0.0.1', resolve));
process.stdout.write(`${JSON.stringify({ port: otlpPort, control: control.address().port })}\n`);
process.once('SIGTERM', () => process.exit(0));

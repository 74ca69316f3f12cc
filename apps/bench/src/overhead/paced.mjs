// An open-loop load generator for latency at a fixed load:
//
//   node paced.mjs <url> <requests per second> <seconds> <connections> [warm-up seconds]
//
// Requests fall due at a fixed rate whatever the server does, and each one's latency is measured
// from when it was due (to the timer tick that found it due), not from when a connection was free
// to send it: a server that falls behind shows it in the latency instead of being sent less
// (closed-loop loaders such as wrk and autocannon hide that; "coordinated omission"). Keep-alive
// connections, one request in flight on each; a due request waits for the next free one. Latency
// has microsecond resolution (autocannon reports whole milliseconds).
//
// The warm-up (default 0) sends at the same rate on the same connections before the measured
// seconds, and its requests are not counted in the latency: the first second after a load starts
// (a new generator process, new connections) stalls every server for a few milliseconds at a time,
// bare ones too, and in a slice of a few seconds those stalls alone would set the p99.
//
// Prints one JSON line: { rps, p50, p99 (ms), total, errors, maxTickGap }: rps, p50 and p99 of the
// measured seconds; total counts every request answered, warm-up included; maxTickGap (ms) is the
// longest this generator's 1 ms timer went without running during the measured seconds. A long gap
// means the generator itself (or the whole VM) stalled: the requests that fell due meanwhile are
// then sent at once, and the burst's queueing shows in the server's latency although the server
// had nothing to do with the stall. The server must answer with a content-length (every benchmark
// server does). When the measured seconds begin it writes `measuring` to stderr, so that a caller can
// tell what the server did during the warm-up from what it did while measured.
import { connect } from 'node:net';

const [url, rateArg, secondsArg, connectionsArg, warmupArg] = process.argv.slice(2);
const target = new URL(url);
const rate = Number(rateArg);
const seconds = Number(secondsArg);
const connections = Number(connectionsArg ?? 50);
const warmup = Number(warmupArg ?? 0);
if (!(rate > 0) || !(seconds > 0) || !(connections > 0) || !(warmup >= 0)) {
  console.error(
    'usage: node paced.mjs <url> <requests per second> <seconds> [connections] [warm-up seconds]',
  );
  process.exit(2);
}
const request = Buffer.from(
  `GET ${target.pathname}${target.search} HTTP/1.1\r\nHost: ${target.host}\r\n\r\n`,
  'latin1',
);

const now = () => Number(process.hrtime.bigint()) / 1e6; // ms
const latencies = []; // ms, of measured requests answered
let answeredAll = 0; // warm-up included
let measureFrom = Number.POSITIVE_INFINITY; // due times from here on are measured
let errors = 0;
let sent = 0;
const waiting = []; // due times of requests no connection was free for
const free = [];
const conns = [];

function open() {
  const c = { socket: connect(Number(target.port), target.hostname), due: 0, busy: false, data: '' };
  conns.push(c);
  c.socket.setNoDelay(true);
  c.socket.setEncoding('latin1');
  c.socket.on('connect', () => release(c));
  c.socket.on('data', (chunk) => {
    c.data += chunk;
    const head = c.data.indexOf('\r\n\r\n');
    if (head < 0) return;
    const m = /\r\ncontent-length:\s*(\d+)/i.exec(c.data.slice(0, head));
    if (!m) {
      errors++;
      c.socket.destroy();
      return;
    }
    const end = head + 4 + Number(m[1]);
    if (c.data.length < end) return;
    c.busy = false;
    if (!c.data.startsWith('HTTP/1.1 2')) errors++;
    else {
      answeredAll++;
      if (c.due >= measureFrom) latencies.push(now() - c.due);
    }
    c.data = c.data.slice(end);
    release(c);
  });
  c.socket.on('error', () => {
    errors++;
  });
  return c;
}

function release(c) {
  const due = waiting.shift();
  if (due === undefined) free.push(c);
  else send(c, due);
}

function send(c, due) {
  c.due = due;
  c.busy = true;
  c.socket.write(request);
}

for (let i = 0; i < connections; i++) open();
await new Promise((r) => setTimeout(r, 200)); // connected before the clock starts

const start = now();
const interval = 1000 / rate;
measureFrom = start + warmup * 1000;
const end = measureFrom + seconds * 1000;
let lastTick = start;
let maxTickGap = 0;
let measuring = false;
await new Promise((resolve) => {
  // Node's timers tick at ~1 ms: each tick sends every request that fell due since the last one.
  // Their latency counts from this tick, not from the exact due time, so this generator's own
  // timer granularity (up to ~1 ms late) is not charged to the server; the wait for a free
  // connection (the server being slow) is.
  const timer = setInterval(() => {
    const t = now();
    if (!measuring && t >= measureFrom) {
      measuring = true;
      process.stderr.write('measuring\n');
    }
    if (t > measureFrom && t - lastTick > maxTickGap) maxTickGap = t - lastTick;
    lastTick = t;
    const until = Math.min(t, end);
    while (start + sent * interval <= until) {
      sent++;
      const c = free.pop();
      if (c === undefined) waiting.push(t);
      else send(c, t);
    }
    if (until >= end) {
      clearInterval(timer);
      resolve();
    }
  }, 1);
});
// Requests still in flight or waiting at the end count as late by how long they have waited so far,
// after a grace period for the ones already sent.
await new Promise((r) => setTimeout(r, 500));
const stop = now();
let late = 0;
const unanswered = [...waiting, ...conns.filter((c) => c.busy).map((c) => c.due)];
for (const due of unanswered) {
  if (due < measureFrom) continue;
  latencies.push(stop - due);
  late++;
}
const answered = latencies.length - late;

latencies.sort((a, b) => a - b);
const pct = (p) =>
  latencies.length === 0
    ? Number.NaN
    : latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))];
console.log(
  JSON.stringify({
    rps: answered / seconds,
    p50: pct(0.5),
    p99: pct(0.99),
    total: answeredAll,
    errors,
    maxTickGap,
  }),
);
process.exit(0);

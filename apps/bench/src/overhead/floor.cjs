'use strict';
// The benchmark's `floor` configuration: the least work per request of any tracer that meets issue
// 7's contract, written for this benchmark's one route and nothing else. Per request it does what
// every such tracer must do, and only that:
// - runs the request in a context of its own (one AsyncLocalStorage.run(), as every context manager does);
// - learns when the response is over (one `close` listener on the response);
// - reads the clock twice and takes 24 random bytes for the ids (from an 8 KiB block, refilled);
// - writes the span, with the 12 attributes tracewire gives this route (HTTP semantic conventions,
//   read from the request, its socket and the response), as OTLP protobuf into a batch buffer;
// - exports every 512 spans (and every second) in one OTLP/HTTP request to the same sink.
// Values that repeat from one span to the next are copied as bytes (as tracewire's encoder does).
// It has no OpenTelemetry API, no span object users could write to, no sampler, no span processor,
// no limits, no validation, no retry, and it handles only ASCII values: none of what a tracing
// library is. So its ratio to bare estimates the best any tracer can do on this machine: a target
// well above it is out of reach for all of them (docs/performance.md, "Eleventh pass").
const { AsyncLocalStorage } = require('node:async_hooks');
const { randomFillSync } = require('node:crypto');
const { Agent, request } = require('node:http');
const { hostname } = require('node:os');

// Read once, as tracewire's clock does: `performance` is an accessor on the global object, and
// loading it per call went through V8's generic global load (callgrind: ~400 instructions/request).
const perf = performance;
const BATCH = 512;
const SPAN_ROOM = 512; // more than one span of this route takes (~330 bytes); a batch is BATCH spans
const als = new AsyncLocalStorage();
let ids = Buffer.allocUnsafe(0);
let idPos = 0;

/** A string field: tag, one-byte length, ASCII bytes (every value here is ASCII and < 128 bytes). */
function putAscii(b, p, tag, s) {
  b[p++] = tag;
  b[p++] = s.length;
  for (let i = 0; i < s.length; i++) b[p++] = s.charCodeAt(i);
  return p;
}

/** The encoded `KeyValue.key` field of each attribute, made once; the writers below take these. */
const KEYS = {};
for (const k of [
  'http.request.method',
  'url.scheme',
  'server.address',
  'server.port',
  'client.address',
  'network.peer.address',
  'network.protocol.version',
  'user_agent.original',
  'url.path',
  'url.query',
  'network.peer.port',
  'http.route',
  'http.response.status_code',
]) {
  KEYS[k] = Buffer.from([0x0a, k.length, ...Buffer.from(k, 'latin1')]);
}
// The keys written for every span, not only when the repeating prefix is made again.
const URL_PATH = KEYS['url.path'];
const URL_QUERY = KEYS['url.query'];
const PEER_PORT = KEYS['network.peer.port'];

/** A KeyValue with a string value (span field 9). */
function putStringAttr(b, p, k, value) {
  b[p] = 0x4a; // Span.attributes
  const at = p + 1;
  p += 2;
  for (let i = 0; i < k.length; i++) b[p++] = k[i];
  b[p++] = 0x12; // KeyValue.value
  b[p++] = value.length + 2;
  p = putAscii(b, p, 0x0a, value); // AnyValue.string_value
  b[at] = p - at - 1;
  return p;
}

/** A KeyValue with an int value below 2^21. */
function putIntAttr(b, p, k, value) {
  b[p] = 0x4a;
  const at = p + 1;
  p += 2;
  for (let i = 0; i < k.length; i++) b[p++] = k[i];
  b[p++] = 0x12;
  const vat = p++;
  b[p++] = 0x18; // AnyValue.int_value
  while (value > 0x7f) {
    b[p++] = (value & 0x7f) | 0x80;
    value >>>= 7;
  }
  b[p++] = value;
  b[vat] = p - vat - 1;
  b[at] = p - at - 1;
  return p;
}

/** A fixed64 of epoch nanoseconds from a `perf.now()` reading. */
function putTime(b, p, tag, now) {
  const ms = perf.timeOrigin + now;
  const s = Math.floor(ms / 1000);
  const ns = Math.round((ms - s * 1000) * 1e6);
  // s * 1e9 + ns split into 32-bit halves without exceeding 2^53.
  const sHi = Math.floor(s / 65536);
  const a = (s - sHi * 65536) * 1e9 + ns;
  const bb = sHi * 1e9;
  const bHi = Math.floor(bb / 65536);
  const low = (bb - bHi * 65536) * 65536 + a;
  const lowHi = Math.floor(low / 4294967296);
  const lo = (low - lowHi * 4294967296) | 0;
  const hi = (bHi + lowHi) | 0;
  b[p++] = tag;
  b[p++] = lo;
  b[p++] = lo >>> 8;
  b[p++] = lo >>> 16;
  b[p++] = lo >>> 24;
  b[p++] = hi;
  b[p++] = hi >>> 8;
  b[p++] = hi >>> 16;
  b[p++] = hi >>> 24;
  return p;
}

/**
 * @param {{ url: string, serviceName: string, scopeName: string, routeOf: (holder: any) => string }} o
 */
function createFloor(o) {
  const target = new URL(o.url);
  const agent = new Agent({ keepAlive: true, maxSockets: 2 });
  // Batch buffers are reused once their export is done (like tracewire's arena): allocating one per
  // batch would add ~0.5 KiB of external memory per request, and with it garbage collections.
  const free = [];
  const fresh = () => free.pop() ?? Buffer.allocUnsafe(BATCH * SPAN_ROOM);
  let batch = fresh();
  let pos = 0;
  let count = 0;
  let inFlight = 0;
  let dropped = 0;
  const pending = new Set();

  // Resource and scope, encoded once (ExportTraceServiceRequest > ResourceSpans > ...).
  const resourceAttrs = [];
  const kv = (k, v) =>
    Buffer.concat([
      Buffer.from([0x0a, k.length]),
      Buffer.from(k),
      Buffer.from([0x12, v.length + 2, 0x0a, v.length]),
      Buffer.from(v),
    ]);
  for (const [k, v] of [
    ['service.name', o.serviceName],
    ['telemetry.sdk.name', 'floor'],
    ['telemetry.sdk.language', 'nodejs'],
    ['process.runtime.name', 'nodejs'],
    ['process.runtime.version', process.versions.node],
    ['host.name', hostname()],
  ]) {
    const one = kv(k, v);
    resourceAttrs.push(Buffer.from([0x0a, one.length]), one);
  }
  const resource = Buffer.concat(resourceAttrs);
  const scope = Buffer.concat([Buffer.from([0x0a, o.scopeName.length]), Buffer.from(o.scopeName)]);

  function varint(v) {
    const out = [];
    while (v > 0x7f) {
      out.push((v & 0x7f) | 0x80);
      v >>>= 7;
    }
    out.push(v);
    return Buffer.from(out);
  }
  /** ResourceSpans.resource (field 1), the same for every export. */
  const resourceField = Buffer.concat([Buffer.from([0x0a]), varint(resource.length), resource]);

  function flush() {
    if (count === 0) return undefined;
    const full = batch;
    const spans = full.subarray(0, pos);
    const n = count;
    pos = 0;
    count = 0;
    if (inFlight >= 4) {
      dropped += n; // the collector is behind: drop the batch and keep the buffer
      return undefined;
    }
    batch = fresh();
    // ScopeSpans { scope = 1; spans = 2 (already tagged) }, ResourceSpans { resource = 1; scope_spans = 2 }.
    const scopeSpansLen = 2 + scope.length + spans.length;
    const scopeSpansHead = Buffer.concat([
      Buffer.from([0x12]),
      varint(scopeSpansLen),
      Buffer.from([0x0a, scope.length]),
      scope,
    ]);
    const rsLen = resourceField.length + scopeSpansHead.length + spans.length;
    const head = Buffer.concat([Buffer.from([0x0a]), varint(rsLen), resourceField, scopeSpansHead]);
    inFlight++;
    const p = new Promise((resolve) => {
      const req = request(
        {
          host: target.hostname,
          port: target.port,
          path: target.pathname,
          method: 'POST',
          agent,
          headers: { 'content-type': 'application/x-protobuf', 'content-length': head.length + spans.length },
        },
        (res) => {
          res.resume();
          res.on('end', resolve);
        },
      );
      req.on('error', resolve);
      req.write(head);
      req.end(spans);
    }).finally(() => {
      free.push(full);
      inFlight--;
      pending.delete(p);
    });
    pending.add(p);
    return p;
  }
  setInterval(flush, 1000).unref();

  /**
   * The span's bytes from `trace_id` to its last attribute whose value repeats (everything but the
   * ids, the times, `url.path` and `network.peer.port`), with the values they were made from:
   * when a span has the same values (a server's spans nearly always do), these bytes are copied
   * and the ids and times written over them, instead of encoding the 9 repeating attributes again.
   */
  let last;

  function prefix(b, p, v) {
    const from = p;
    b[p++] = 0x0a; // trace_id, written over below
    b[p++] = 16;
    p += 16;
    b[p++] = 0x12; // span_id
    b[p++] = 8;
    p += 8;
    p = putAscii(b, p, 0x2a, `${v.method} ${v.route}`); // name
    b[p++] = 0x30; // kind = SERVER
    b[p++] = 2;
    const startAt = p - from;
    p += 18; // start and end times, written below
    p = putStringAttr(b, p, KEYS['http.request.method'], v.method);
    p = putStringAttr(b, p, KEYS['url.scheme'], 'http');
    p = putStringAttr(b, p, KEYS['server.address'], v.local);
    p = putIntAttr(b, p, KEYS['server.port'], v.localPort);
    p = putStringAttr(b, p, KEYS['client.address'], v.remote);
    p = putStringAttr(b, p, KEYS['network.peer.address'], v.remote);
    p = putStringAttr(b, p, KEYS['network.protocol.version'], v.version);
    if (typeof v.ua === 'string') p = putStringAttr(b, p, KEYS['user_agent.original'], v.ua);
    p = putStringAttr(b, p, KEYS['http.route'], v.route);
    p = putIntAttr(b, p, KEYS['http.response.status_code'], v.status);
    v.bytes = Buffer.from(b.subarray(from, p));
    v.startAt = startAt;
    return v;
  }

  /** When the response is over (`close`): the span ends and is encoded. */
  function onClose(s, res) {
    const end = perf.now();
    const req = s.req;
    const socket = req.socket;
    const route = o.routeOf(s.holder);
    const method = req.method;
    const local = socket.localAddress;
    const localPort = socket.localPort;
    const remote = socket.remoteAddress;
    const version = req.httpVersion;
    const ua = req.headers['user-agent'];
    const status = res.statusCode;
    if (pos + SPAN_ROOM > batch.length) flush();
    const b = batch;
    let p = pos;
    b[p] = 0x12; // ScopeSpans.spans, two-byte length below
    const at = p + 1;
    p += 3;
    let t = last;
    if (
      t !== undefined &&
      method === t.method &&
      route === t.route &&
      local === t.local &&
      localPort === t.localPort &&
      remote === t.remote &&
      version === t.version &&
      ua === t.ua &&
      status === t.status
    ) {
      t.bytes.copy(b, p);
    } else {
      t = last = prefix(b, p, { method, route, local, localPort, remote, version, ua, status });
    }
    const block = s.ids;
    const id = s.id;
    for (let i = 0; i < 16; i++) b[p + 2 + i] = block[id + i];
    for (let i = 0; i < 8; i++) b[p + 20 + i] = block[id + 16 + i];
    putTime(b, p + t.startAt, 0x39, s.start);
    putTime(b, p + t.startAt + 9, 0x41, end);
    p += t.bytes.length;
    const url = req.url;
    const q = url.indexOf('?');
    p = putStringAttr(b, p, URL_PATH, q < 0 ? url : url.slice(0, q));
    // (tracewire also redacts the values of sensitive keys; this benchmark's requests have no query)
    if (q >= 0) p = putStringAttr(b, p, URL_QUERY, url.slice(q + 1));
    p = putIntAttr(b, p, PEER_PORT, socket.remotePort);
    b[p++] = 0x85; // flags (fixed32 0x103): sampled and random (W3C level 2), as tracewire's root spans; HAS_IS_REMOTE
    b[p++] = 0x01;
    b[p++] = 0x03;
    b[p++] = 0x01;
    b[p++] = 0;
    b[p++] = 0;
    const len = p - at - 2;
    b[at] = (len & 0x7f) | 0x80;
    b[at + 1] = len >>> 7;
    pos = p;
    if (++count === BATCH) flush();
  }

  return {
    /** Call from the framework's first middleware: `holder` is what `routeOf` reads the route from. */
    begin(req, res, next, holder) {
      if (idPos + 24 > ids.length) {
        ids = randomFillSync(Buffer.allocUnsafe(8192)); // a new block: earlier spans keep theirs
        idPos = 0;
      }
      const span = { req, holder, start: perf.now(), ids, id: idPos };
      idPos += 24;
      // A closure per request rather than a property on the response: adding a property to Node's
      // ServerResponse objects made their loads and stores megamorphic (callgrind).
      res.on('close', () => onClose(span, res));
      return als.run(span, next);
    },
    async shutdown() {
      flush();
      await Promise.all([...pending]);
      if (dropped > 0) process.stderr.write(`floor: dropped ${dropped} spans\n`);
    },
  };
}

module.exports = { createFloor };

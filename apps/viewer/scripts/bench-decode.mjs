#!/usr/bin/env node
/**
 * Decoder throughput (spans/s): the viewer's hand-written protobuf decoder against protobufjs (the
 * generated decoder of @opentelemetry/otlp-transformer 0.52, what the official JS collector-side
 * code used), and the JSON path (JSON.parse + validation). Input: 512 spans with 10 attributes
 * and one event each, encoded by the official encoder. Needs `npm run build` first.
 *
 *   node scripts/bench-decode.mjs
 */
import { createRequire } from 'node:module';
import { JsonTraceSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { decodeTraceRequestJson, decodeTraceRequestProto } from '../dist/index.js';

const require = createRequire(import.meta.url);
const root = require('otlp-transformer-052/build/src/generated/root.js');
const Request = root.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest;

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({
  resource: resourceFromAttributes({
    'service.name': 'bench',
    'service.version': '1.0.0',
    'host.name': 'box',
  }),
  spanProcessors: [new SimpleSpanProcessor(exporter)],
});
const tracer = provider.getTracer('bench', '1.0.0');
for (let i = 0; i < 512; i++) {
  const s = tracer.startSpan(`GET /users/:id ${i % 7}`, {
    kind: 1,
    attributes: {
      'http.request.method': 'GET',
      'http.route': '/users/:id',
      'url.path': `/users/${i}`,
      'url.scheme': 'http',
      'http.response.status_code': 200,
      'server.address': 'localhost',
      'server.port': 3000,
      'client.address': '127.0.0.1',
      'user_agent.original': 'bench/1.0',
      'network.protocol.version': '1.1',
    },
  });
  s.addEvent('handled', { step: i });
  s.end();
}
const spans = exporter.getFinishedSpans();
const proto = Buffer.from(ProtobufTraceSerializer.serializeRequest(spans));
const json = Buffer.from(JsonTraceSerializer.serializeRequest(spans));

/** Spans per CPU second (user + system), so that other processes on a shared machine matter less. */
function round(fn) {
  const start = process.cpuUsage();
  let n = 0;
  let used = 0;
  while (used < 500_000) {
    for (let i = 0; i < 10; i++) fn();
    n += 10;
    const u = process.cpuUsage(start);
    used = u.user + u.system;
  }
  return (n * spans.length) / (used / 1e6);
}

/** Rounds of the candidates alternate, so a slow moment hurts all of them alike. */
function compare(cases) {
  for (const [, fn] of cases) for (let i = 0; i < 300; i++) fn(); // warm up
  const results = cases.map(() => []);
  for (let r = 0; r < 7; r++) {
    cases.forEach(([, fn], i) => {
      results[i].push(round(fn));
    });
  }
  cases.forEach(([name], i) => {
    const sorted = results[i].sort((a, b) => a - b);
    console.log(
      `${name.padEnd(58)} ${Math.round(sorted[3]).toLocaleString('en-US').padStart(10)} spans per CPU-second (median of 7)`,
    );
  });
}

console.log(
  `node ${process.version}, request: ${spans.length} spans, ${proto.length} bytes protobuf, ${json.length} bytes JSON`,
);
compare([
  ['viewer protobuf decoder', () => decodeTraceRequestProto(proto)],
  ['protobufjs decode (otlp-transformer 0.52)', () => Request.decode(proto)],
  [
    'protobufjs decode + toObject (longs and bytes as strings)',
    () => Request.toObject(Request.decode(proto), { longs: String, bytes: String }),
  ],
  [
    'viewer JSON decoder (JSON.parse + validation)',
    () => decodeTraceRequestJson(JSON.parse(json.toString())),
  ],
]);

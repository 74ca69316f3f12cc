/**
 * The benchmark's `floor` configuration stands for "the least any tracer must do": it is only a
 * fair floor if it delivers what tracewire delivers. For each framework, a `floor` server and a
 * `tracewire` server get the same requests; the spans that reach a real OTLP receiver, decoded by
 * the independent decoder, must be one per request with the same name, kind and attributes
 * (bar the ports), valid unique ids and times inside the request's window.
 */
import { join } from 'node:path';
import {
  type DecodedSpan,
  decodeSpanFlags,
  type OtlpReceiver,
  startOtlpReceiver,
} from '@tracewire/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error untyped JavaScript module shared with the overhead benchmark
import { startProcess, stopProcess } from '../src/overhead/run.mjs';

const server = join(__dirname, '..', 'src', 'overhead', 'server.cjs');
// More than one batch of 512, so both the size trigger and the shutdown flush export.
const REQUESTS = 700;
/**
 * The window is read from this process's `Date.now()` (whole milliseconds) and the servers stamp
 * spans from their time origin plus the monotonic clock, which on this machine reads up to ~0.5 ms
 * ahead of `Date.now()` (up to ~5 ms on a process's first reading): a few milliseconds of slack.
 */
const CLOCK_SLACK_MS = 10;

let receiver: OtlpReceiver;
beforeAll(async () => {
  receiver = await startOtlpReceiver();
});
afterAll(async () => {
  await receiver?.close();
});

/** Runs `server.cjs <framework> <mode>`, sends the requests, stops it (SIGTERM flushes), returns its spans. */
async function spansOf(
  framework: string,
  mode: string,
): Promise<{ spans: DecodedSpan[]; flags: (number | undefined)[]; from: bigint; to: bigint }> {
  const path = `/v1/traces/${framework}-${mode}`;
  const { child, port } = await startProcess(process.execPath, [server, framework, mode], {
    OTLP_URL: `${receiver.url}${path}`,
  });
  const from = BigInt(Date.now() - CLOCK_SLACK_MS) * 1_000_000n;
  for (let i = 0; i < REQUESTS; i += 10) {
    await Promise.all(
      Array.from({ length: 10 }, (_, j) =>
        fetch(`http://127.0.0.1:${port}/users/${i + j}${j === 3 ? '?expand=1' : ''}`).then((r) => r.text()),
      ),
    );
  }
  await stopProcess(child);
  // After the process has exited: a span ends in the server's `close` listener, which may run
  // after this process already has the response.
  const to = BigInt(Date.now() + CLOCK_SLACK_MS) * 1_000_000n;
  const requests = receiver.requests.filter((r) => r.url === path);
  const spans = requests.flatMap((r) => r.spans);
  // Span.flags is newer than the generated decoder: read with protobufjs's Reader, in span order.
  const flags = requests.flatMap((r) => decodeSpanFlags(r.body).map((f) => f.flags));
  return { spans, flags, from, to };
}

/** The attributes a user would compare, without the ports (each server listens on its own). */
function comparable(s: DecodedSpan): Record<string, unknown> {
  const { 'server.port': _s, 'network.peer.port': _p, ...rest } = s.attributes;
  return rest;
}

describe.each(['fastify', 'express', 'koa'])('floor on %s', (framework) => {
  it('exports one span per request, as tracewire does, with valid ids and times', async () => {
    const floor = await spansOf(framework, 'floor');
    const traced = await spansOf(framework, 'tracewire');
    expect(floor.spans).toHaveLength(REQUESTS);
    expect(traced.spans).toHaveLength(REQUESTS);

    const byPath = new Map(traced.spans.map((s) => [s.attributes['url.path'], s]));
    expect(floor.flags).toHaveLength(REQUESTS);
    // W3C flags and "parent is not remote", as tracewire's root spans have them (sampled, random).
    expect(new Set(traced.flags)).toEqual(new Set([0x103]));
    expect(new Set(floor.flags)).toEqual(new Set(traced.flags));
    for (const s of floor.spans) {
      const twin = byPath.get(s.attributes['url.path']);
      expect(twin, String(s.attributes['url.path'])).toBeDefined();
      expect(s.name).toBe(twin!.name);
      expect(s.kind).toBe(2);
      expect(comparable(s)).toEqual(comparable(twin!));
      expect(s.attributes['server.port']).toEqual(expect.any(Number));
      expect(s.attributes['network.peer.port']).toEqual(expect.any(Number));
      expect(s.startTimeUnixNano).toBeGreaterThanOrEqual(floor.from);
      expect(s.endTimeUnixNano).toBeGreaterThanOrEqual(s.startTimeUnixNano);
      expect(s.endTimeUnixNano).toBeLessThanOrEqual(floor.to);
    }
    expect(floor.spans[0]!.name).toBe('GET /users/:id');
    expect(floor.spans.filter((s) => s.attributes['url.path'] === '/users/3')).toHaveLength(1);
    const traceIds = new Set(floor.spans.map((s) => s.traceId));
    const spanIds = new Set(floor.spans.map((s) => s.spanId));
    expect(traceIds.size).toBe(REQUESTS);
    expect(spanIds.size).toBe(REQUESTS);
    for (const s of floor.spans) {
      expect(s.traceId).toMatch(/^[0-9a-f]{32}$/);
      expect(s.traceId).not.toBe('0'.repeat(32));
      expect(s.spanId).toMatch(/^[0-9a-f]{16}$/);
    }
  }, 60_000);
});

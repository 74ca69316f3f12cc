/**
 * With the default `propagateTo` ('<internal>'), trace context and baggage go to internal hosts
 * (loopback here) and never to a public host name (resolved to loopback by a custom lookup, so the
 * test needs no network): trace ids and baggage do not leak to third-party APIs by default.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo, LookupFunction } from 'node:net';
import { context, propagation, trace } from '@opentelemetry/api';
import { start, type Tracewire } from '@tracewire/core';
import { type OtlpReceiver, startOtlpReceiver } from '@tracewire/test-utils';
import { Agent, fetch as undiciFetch } from 'undici';
import { afterAll, beforeAll, expect, it } from 'vitest';

const toLoopback = ((
  _host: string,
  opts: { all?: boolean },
  cb: (e: null, a: unknown, f?: number) => void,
) =>
  opts?.all
    ? cb(null, [{ address: '127.0.0.1', family: 4 }])
    : cb(null, '127.0.0.1', 4)) as unknown as LookupFunction;
const publicAgent = new Agent({ connect: { lookup: toLoopback } });

let receiver: OtlpReceiver;
let handle: Tracewire;
let server: Server;
let port: number;
const seen = new Map<string, IncomingHttpHeaders>();

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  handle = start({
    serviceName: 'default-propagation',
    otlp: { url: receiver.tracesUrl },
    shutdownOnSignals: false,
  });
  server = createServer((req, res) => {
    seen.set(`${req.headers.host}${req.url}`, req.headers);
    res.end('ok');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  server?.close();
  await publicAgent.close();
  await handle?.shutdown();
  await receiver?.close();
});

it('default propagateTo: headers to loopback, nothing to a public host', async () => {
  const tracer = trace.getTracer('test');
  await tracer.startActiveSpan('parent', async (span) => {
    const bag = propagation.createBaggage({ 'user.id': { value: 'u-42' } });
    await context.with(propagation.setBaggage(context.active(), bag), async () => {
      await (await undiciFetch(`http://127.0.0.1:${port}/internal`)).text();
      await (await undiciFetch(`http://api.example.com:${port}/public`, { dispatcher: publicAgent })).text();
      await (
        await undiciFetch(`http://api.example.com.evil.example:${port}/public2`, { dispatcher: publicAgent })
      ).text();
    });
    span.end();
  });
  const internal = seen.get(`127.0.0.1:${port}/internal`);
  expect(internal?.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[0-3]$/);
  expect(internal?.baggage).toBe('user.id=u-42');
  for (const key of [`api.example.com:${port}/public`, `api.example.com.evil.example:${port}/public2`]) {
    const h = seen.get(key);
    expect(h, key).toBeDefined();
    expect(h?.traceparent).toBeUndefined();
    expect(h?.tracestate).toBeUndefined();
    expect(h?.baggage).toBeUndefined();
  }
  // The public calls were seen by tracewire (CLIENT spans exist): not propagating was a decision.
  await handle.forceFlush();
  const clients = await receiver.waitFor((all) => all.filter((s) => s.kind === 3).length >= 3, 5000);
  expect(
    clients
      .filter((s) => s.kind === 3)
      .map((s) => s.attributes['server.address'])
      .sort(),
  ).toEqual(['127.0.0.1', 'api.example.com', 'api.example.com.evil.example']);
});

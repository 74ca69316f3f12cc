/**
 * paced.mjs, the open-loop generator of the fixed-load latency phase, against real HTTP servers on
 * 127.0.0.1 whose slowness is known: what it reports must follow what the server did.
 */
import { execFile } from 'node:child_process';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runScript } from './run-script.js';

const paced = join(__dirname, '..', 'src', 'overhead', 'paced.mjs');

interface Paced {
  rps: number;
  p50: number;
  p99: number;
  total: number;
  errors: number;
  maxTickGap: number;
}

function run(
  url: string,
  rate: number,
  seconds: number,
  connections: number,
  warmup?: number,
): Promise<Paced> {
  const args = [url, String(rate), String(seconds), String(connections)];
  if (warmup !== undefined) args.push(String(warmup));
  return runScript('paced.mjs', args, 30_000).then((stdout) => JSON.parse(stdout) as Paced);
}

let server: Server | undefined;
async function stop(): Promise<void> {
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r));
  server = undefined;
}
afterEach(stop);

async function serve(
  handler: (req: IncomingMessage, res: ServerResponse, n: number) => void,
): Promise<string> {
  let n = 0;
  server = createServer((req, res) => handler(req, res, ++n));
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server!.address() as AddressInfo).port}/users/42`;
}

const ok = (res: ServerResponse) => {
  res.setHeader('content-type', 'application/json');
  res.end('{"id":"42"}');
};
const busy = (ms: number) => {
  const end = performance.now() + ms;
  while (performance.now() < end);
};

describe('paced.mjs (fixed-load latency)', { timeout: 60_000 }, () => {
  it('a stall just after the load starts sets the p99 without a warm-up, and is left out with one', async () => {
    // The server blocks for 400 ms on its first request, then answers at once.
    const stallOnce = async () =>
      serve((_req, res, n) => {
        if (n === 1) busy(400);
        ok(res);
      });

    const cold = await run(await stallOnce(), 1000, 1, 10);
    expect(cold.errors).toBe(0);
    // The requests due during the stall waited for it: well over 1% of a 1 s slice.
    expect(cold.p99).toBeGreaterThan(200);
    // The server stalled, not the generator: its 1 ms timer kept running (a loader stall, which the
    // benchmark reports beside the p99, would be a gap of the stall's length).
    expect(cold.maxTickGap).toBeGreaterThan(0);
    expect(cold.maxTickGap).toBeLessThan(100);

    await stop();
    const warm = await run(await stallOnce(), 1000, 1, 10, 1);
    expect(warm.errors).toBe(0);
    // Same stall, inside the unmeasured second: the measured one is quick.
    expect(warm.p99).toBeLessThan(100);
    // Served at the offered rate in the measured second; total counts the warm-up's requests too.
    expect(warm.rps).toBeGreaterThan(900);
    expect(warm.rps).toBeLessThan(1100);
    expect(warm.total).toBeGreaterThan(1800);
  });

  it('says on stderr when the measured seconds begin: after the warm-up’s requests, before the measured ones', async () => {
    let served = 0;
    const url = await serve((_req, res) => {
      served++;
      ok(res);
    });
    const args = [paced, url, '1000', '1', '10', '1'];
    let servedAtMark = -1;
    const r = await new Promise<Paced>((resolve, reject) => {
      const child = execFile(process.execPath, args, { timeout: 30_000 }, (err, stdout, stderr) => {
        if (err) reject(new Error(`${err.message}\n${stderr}`));
        else resolve(JSON.parse(stdout) as Paced);
      });
      child.stderr?.on('data', (d) => {
        if (servedAtMark < 0 && String(d).includes('measuring\n')) servedAtMark = served;
      });
    });
    // One second at 1000 req/s was warm-up; the mark came between it and the measured second.
    expect(servedAtMark).toBeGreaterThan(800);
    expect(servedAtMark).toBeLessThan(1200);
    expect(r.total).toBeGreaterThan(1800);
  });

  it('a server slower than the offered rate shows it in the latency, not in fewer requests sent', async () => {
    // 10 ms per request on one event loop: at most 100 req/s against 300 offered. On 2 connections
    // a closed-loop loader would see ~20 ms per request; here a request that fell due waits its
    // turn behind every earlier one, and the queue grows by ~200 a second.
    const url = await serve((_req, res) => {
      busy(10);
      ok(res);
    });
    const r = await run(url, 300, 2, 2);
    expect(r.errors).toBe(0);
    expect(r.rps).toBeLessThan(150);
    expect(r.p99).toBeGreaterThan(300);
  });

  it('requests never answered count as late, with the time they waited', async () => {
    // The first 100 requests are answered; the other 20 are held open until the test ends, each on
    // a connection of its own (none waits for a free one).
    const url = await serve((_req, res, n) => {
      if (n <= 100) ok(res);
    });
    const r = await run(url, 120, 1, 50);
    expect(r.rps).toBeLessThanOrEqual(100);
    expect(r.total).toBe(100);
    // A sixth of the requests were never answered: the p99 is one of them, late by at least the
    // 500 ms grace paced.mjs waits after the last request fell due.
    expect(r.p99).toBeGreaterThanOrEqual(500);
  });
});

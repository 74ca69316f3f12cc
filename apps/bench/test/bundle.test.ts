/**
 * Comparing two builds (docs/performance.md, "Comparing two builds") relies on bundles of the working
 * tree: `instructions.mjs --source --bundle-only` writes `tracewire.cjs` and, beside it,
 * `tracewire-nestjs.cjs` with the Nest module too, which the nest-* servers load. A server given a
 * bundle must trace with it: spans reach a real OTLP receiver, decoded by the independent decoder.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { type OtlpReceiver, startOtlpReceiver } from '@tracewire/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error untyped JavaScript module shared with the overhead benchmark
import { startProcess, stopProcess } from '../src/overhead/run.mjs';

const overhead = join(__dirname, '..', 'src', 'overhead');
let receiver: OtlpReceiver;
let bundle: string;

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  // The path of the bundle is printed on stderr ("tracewire from <path>").
  const stderr = await new Promise<string>((resolve, reject) => {
    execFile(
      process.execPath,
      [join(overhead, 'instructions.mjs'), '--source', '--bundle-only'],
      { timeout: 120_000 },
      (err, _stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stderr)),
    );
  });
  bundle = /tracewire from (\S+)/.exec(stderr)?.[1] ?? '';
}, 150_000);
afterAll(async () => {
  await receiver?.close();
});

describe('bundles of the working tree', () => {
  it('are two files: tracewire.cjs without Nest, tracewire-nestjs.cjs with the Nest module', () => {
    expect(bundle).toMatch(/tracewire\.cjs$/);
    expect(existsSync(bundle.replace(/\.cjs$/, '-nestjs.cjs'))).toBe(true);
  });

  it.each(['express', 'nest-fastify'])(
    'a %s server traces with them',
    async (framework) => {
      const path = `/v1/traces/bundle-${framework}`;
      const { child, port } = await startProcess(
        process.execPath,
        [join(overhead, 'server.cjs'), framework, 'tracewire'],
        {
          OTLP_URL: `${receiver.url}${path}`,
          TRACEWIRE_BUNDLE: bundle,
        },
      );
      for (let i = 0; i < 5; i++)
        expect((await fetch(`http://127.0.0.1:${port}/users/${i}`)).status).toBe(200);
      await stopProcess(child);
      const spans = receiver.requests.filter((r) => r.url === path).flatMap((r) => r.spans);
      expect(spans.map((s) => s.name)).toEqual(Array(5).fill('GET /users/:id'));
      if (framework === 'nest-fastify')
        expect(spans[0]!.attributes['nestjs.controller']).toBe('UsersController');
    },
    60_000,
  );

  it('a nest-* server given a bundle without the Nest one beside it fails to start, naming the file', async () => {
    const lone = join(__dirname, 'no-such-dir', 'tracewire.cjs');
    const err = await startProcess(
      process.execPath,
      [join(overhead, 'server.cjs'), 'nest-express', 'tracewire'],
      {
        TRACEWIRE_BUNDLE: lone,
      },
    ).then(
      async ({ child }: { child: unknown }) => {
        await stopProcess(child);
        return undefined;
      },
      (e: Error) => e,
    );
    expect(String(err)).toContain('tracewire-nestjs.cjs');
  }, 60_000);
});

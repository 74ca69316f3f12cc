/**
 * SIGTERM/SIGINT handling, in real child processes: the span recorded before the signal reaches a
 * real OTLP receiver, and the process ends exactly as it would without tracewire.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type OtlpReceiver, startOtlpReceiver } from '@tracewire/test-utils';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let receiver: OtlpReceiver;
let dir: string;
let bundle: string;

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  dir = mkdtempSync(join(tmpdir(), 'tracewire-signals-'));
  bundle = join(dir, 'signal-app.mjs');
  // Bundle tracewire from source (what the test suite runs on) into one self-contained file.
  await build({
    entryPoints: [fileURLToPath(new URL('./fixtures/signal-app.ts', import.meta.url))],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outfile: bundle,
    logLevel: 'error',
  });
});
afterAll(async () => {
  await receiver.close();
  rmSync(dir, { recursive: true, force: true });
});

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  ms: number;
}

function run(mode: string, signal?: NodeJS.Signals): Promise<Exit> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(process.execPath, [bundle], {
      env: { ...process.env, MODE: mode, RECEIVER_URL: receiver.tracesUrl, OTEL_SDK_DISABLED: '' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let stdout = '';
    let sentAt = Date.now();
    const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.stdout?.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (signal && stdout.includes('ready') && sentAt === 0) {
        sentAt = Date.now();
        child.kill(signal);
      }
    });
    sentAt = signal ? 0 : Date.now();
    child.on('error', reject);
    child.on('exit', (code, sig) => {
      clearTimeout(killer);
      resolve({ code, signal: sig, stdout, ms: Date.now() - sentAt });
    });
  });
}

const spanNames = () => receiver.spans().map((s) => s.name);

describe('signals', () => {
  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    it(`${sig} with no app listener: spans are flushed, then the process dies by ${sig} as without tracewire`, async () => {
      receiver.reset();
      const exit = await run('default', sig);
      expect(exit.signal).toBe(sig);
      expect(exit.code).toBeNull();
      expect(spanNames()).toEqual(['span-default']);
      expect(receiver.spans()[0]?.resource['service.name']).toBe('signal-app');
    });
  }

  it('with an app listener: tracewire flushes and the app decides how to exit', async () => {
    receiver.reset();
    const exit = await run('app-listener', 'SIGTERM');
    expect(exit.stdout).toContain('app handled SIGTERM');
    expect(exit.code).toBe(7);
    expect(exit.signal).toBeNull();
    expect(spanNames()).toEqual(['span-app-listener']);
  });

  it('shutdownOnSignals: false leaves the signal alone (no flush: the batch was not due)', async () => {
    receiver.reset();
    const exit = await run('no-signals', 'SIGTERM');
    expect(exit.signal).toBe('SIGTERM');
    expect(receiver.requests).toHaveLength(0);
  });

  it('never keeps an idle process alive', async () => {
    receiver.reset();
    const exit = await run('idle');
    expect(exit.code).toBe(0);
    expect(exit.ms).toBeLessThan(5000);
  });
});

/**
 * The published command (`npx @tracewire/viewer` runs `dist/cli.js`): flags, environment
 * variables, the file saved on SIGTERM, and a clear error for a bad flag. Runs the build output, so
 * `npm run build` (turbo runs it before the tests) must have produced `dist/`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkoutTrace, getJson, postProto, toProto } from './helpers.js';

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
let dir: string;

beforeAll(async () => {
  if (!existsSync(CLI))
    throw new Error(`${CLI} is missing: run \`npm run build -w @tracewire/viewer\` first`);
  dir = await mkdtemp(join(tmpdir(), 'tracewire-viewer-cli-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

function run(args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d));
  child.stderr!.on('data', (d: Buffer) => (err += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const urls = new Promise<{ ui: string; otlp: string }>((resolve, reject) => {
    child.stdout!.on('data', () => {
      const ui = /UI\s+(http:\/\/\S+)/.exec(out)?.[1];
      const otlp = /OTLP\/HTTP\s+(http:\/\/\S+)\/v1\/traces/.exec(out)?.[1];
      if (ui && otlp) resolve({ ui, otlp });
    });
    child.on('exit', () => reject(new Error(`exited early: ${out}${err}`)));
  });
  // Runs that are expected to fail never print URLs; nobody awaits `urls` for them.
  urls.catch(() => undefined);
  return { child: child as ChildProcess, urls, exited, output: () => out + err };
}

describe('tracewire-viewer command', () => {
  it('starts on the ports given by flags, receives traces, and saves the file on SIGTERM', async () => {
    const file = join(dir, 'cli.json');
    const p = run(['--otlp-port', '0', '--ui-port=0', '--file', file]);
    const { ui, otlp } = await p.urls;
    expect(ui).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const spans = checkoutTrace();
    expect((await postProto(otlp, toProto(spans))).status).toBe(200);
    const list = await getJson(`${ui}/api/traces`);
    expect(list.traces[0].rootName).toBe('POST /orders');
    p.child.kill('SIGTERM');
    expect(await p.exited).toBe(0);
    const saved = JSON.parse(readFileSync(file, 'utf8'));
    expect(saved.spans).toHaveLength(spans.length);
  });

  it('reads TRACEWIRE_VIEWER_* variables; flags win over them', async () => {
    const p = run(['--ui-port', '0'], {
      TRACEWIRE_VIEWER_OTLP_PORT: '0',
      TRACEWIRE_VIEWER_UI_PORT: '1',
      TRACEWIRE_VIEWER_MAX_SPANS: '3',
    });
    const { ui } = await p.urls;
    const stats = await getJson(`${ui}/api/stats`);
    expect(stats.maxSpans).toBe(3);
    expect(new URL(ui).port).not.toBe('1');
    p.child.kill('SIGINT');
    expect(await p.exited).toBe(0);
  });

  it('exits 2 with a clear message for a bad flag or value', async () => {
    const bad = run(['--otlp-port', 'abc']);
    expect(await bad.exited).toBe(2);
    expect(bad.output()).toMatch(/--otlp-port expects a whole number, got "abc"/);
    const unknown = run(['--colour']);
    expect(await unknown.exited).toBe(2);
    expect(unknown.output()).toMatch(/Unknown option '--colour'/);
  });
});

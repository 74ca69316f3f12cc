/**
 * The published build, as users load it: CommonJS `require`, native ESM `import`, and an esbuild
 * bundle, each with Express 4 and 5, exporting to a real OTLP receiver.
 */
import { type DecodedSpan, type OtlpReceiver, startOtlpReceiver } from '@tracewire/test-utils';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const pkgDir = fileURLToPath(new URL('..', import.meta.url));
const fixtures = fileURLToPath(new URL('./fixtures/', import.meta.url));
const node = process.execPath;

/** Build `dist/` when it is missing or older than any source file (CI builds first; this keeps local runs honest). */
async function ensureBuilt(): Promise<void> {
  const dist = join(pkgDir, 'dist', 'index.cjs');
  const newest = Math.max(
    ...readdirSync(join(pkgDir, 'src')).map((f) => statSync(join(pkgDir, 'src', f)).mtimeMs),
  );
  if (existsSync(dist) && statSync(dist).mtimeMs >= newest) return;
  await run('npx', ['tsup'], { cwd: pkgDir, timeout: 120_000 });
}

let receiver: OtlpReceiver;
let bundleDir: string;
let bundled: string;

beforeAll(async () => {
  await ensureBuilt();
  receiver = await startOtlpReceiver();
  // The bundle lives outside the repository so nothing can be resolved from node_modules at run time.
  bundleDir = mkdtempSync(join(tmpdir(), 'tracewire-express-bundle-'));
  bundled = join(bundleDir, 'app.mjs');
  await build({
    entryPoints: [join(fixtures, 'app.mjs')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outfile: bundled,
    logLevel: 'error',
    // CommonJS dependencies (Express) call require() for Node built-ins
    banner: {
      js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
    },
  });
}, 120_000);

afterAll(async () => {
  await receiver?.close();
  if (bundleDir) rmSync(bundleDir, { recursive: true, force: true });
});

const cases = [
  ['CommonJS require', () => join(fixtures, 'app.cjs')],
  ['native ESM import', () => join(fixtures, 'app.mjs')],
  ['esbuild bundle', () => bundled],
] as const;

describe.each(cases)('%s of the published build', (_label, script) => {
  const matrix = [
    ['express4', 'official'],
    ['express5', 'official'],
    ['express4', 'tracewire'],
    ['express5', 'tracewire'],
  ] as const;
  for (const [express, sdk] of matrix) {
    it(`${express} + ${sdk === 'official' ? 'the official SDK' : 'start() from @tracewire/core'}: named server span with its child`, async () => {
      receiver.reset();
      const { stdout } = await run(node, [script()], {
        cwd: fixtures,
        timeout: 30_000,
        env: { ...process.env, EXPRESS: express, SDK: sdk, OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url },
      });
      expect(stdout).toContain('status 200');
      const spans = await receiver.waitFor(
        (s) => s.some((x) => x.kind === 2) && s.some((x) => x.name === 'child'),
      );
      const server = spans.find((s) => s.kind === 2) as DecodedSpan;
      expect(spans.filter((s) => s.kind === 2)).toHaveLength(1);
      expect(server.name).toBe('GET /api/users/:id');
      expect(server.attributes['http.route']).toBe('/api/users/:id');
      expect(server.scope.name).toBe('@tracewire/express');
      const child = spans.find((s) => s.name === 'child');
      expect(child?.parentSpanId).toBe(server.spanId);
      expect(child?.traceId).toBe(server.traceId);
    });
  }
});

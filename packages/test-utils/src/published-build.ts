/**
 * One suite for every adapter's published build, as users load it: CommonJS `require`, native ESM
 * `import`, and an esbuild bundle, each with every supported framework major and both SDKs (the
 * official one and `start()` from @tracewire/core), exporting to a real OTLP receiver.
 *
 * The adapter's `test/fixtures/app.{cjs,mjs}` read the framework alias from `envVar` and the SDK from
 * `SDK`, serve `GET /api/users/:id` (which makes a `child` span) and print `status 200`.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DecodedSpan, type OtlpReceiver, startOtlpReceiver } from './otlp-receiver.js';

const run = promisify(execFile);

export interface PublishedBuildSuite {
  /** `import.meta.url` of the test file (in the adapter's `test/` directory). */
  testFile: string;
  /** Short framework name, for labels and the bundle's temp directory (`express`, `koa`). */
  framework: string;
  /** The npm aliases of the supported majors (`['express4', 'express5']`). */
  versions: readonly string[];
  /** The environment variable the fixtures read the alias from (`EXPRESS`). */
  envVar: string;
  /** The instrumentation scope the server span must carry (`@tracewire/express`). */
  scope: string;
}

/** Build `dist/` when it is missing or older than any source file (CI builds first; this keeps local runs honest). */
async function ensureBuilt(pkgDir: string): Promise<void> {
  const dist = join(pkgDir, 'dist', 'index.cjs');
  const newest = Math.max(
    ...readdirSync(join(pkgDir, 'src')).map((f) => statSync(join(pkgDir, 'src', f)).mtimeMs),
  );
  if (existsSync(dist) && statSync(dist).mtimeMs >= newest) return;
  await run('npx', ['tsup'], { cwd: pkgDir, timeout: 120_000 });
}

export function publishedBuildSuite({
  testFile,
  framework,
  versions,
  envVar,
  scope,
}: PublishedBuildSuite): void {
  const pkgDir = fileURLToPath(new URL('..', testFile));
  const fixtures = fileURLToPath(new URL('./fixtures/', testFile));
  let receiver: OtlpReceiver;
  let bundleDir: string;
  let bundled: string;

  beforeAll(async () => {
    await ensureBuilt(pkgDir);
    receiver = await startOtlpReceiver();
    // The bundle lives outside the repository so nothing can be resolved from node_modules at run time.
    bundleDir = mkdtempSync(join(tmpdir(), `tracewire-${framework}-bundle-`));
    bundled = join(bundleDir, 'app.mjs');
    await build({
      entryPoints: [join(fixtures, 'app.mjs')],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      outfile: bundled,
      logLevel: 'error',
      // CommonJS dependencies (the framework) call require() for Node built-ins
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
    for (const sdk of ['official', 'tracewire'] as const) {
      for (const version of versions) {
        it(`${version} + ${sdk === 'official' ? 'the official SDK' : 'start() from @tracewire/core'}: named server span with its child`, async () => {
          receiver.reset();
          const { stdout } = await run(process.execPath, [script()], {
            cwd: fixtures,
            timeout: 30_000,
            env: { ...process.env, [envVar]: version, SDK: sdk, OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url },
          });
          expect(stdout).toContain('status 200');
          const spans = await receiver.waitFor(
            (s) => s.some((x) => x.kind === 2) && s.some((x) => x.name === 'child'),
          );
          const server = spans.find((s) => s.kind === 2) as DecodedSpan;
          expect(spans.filter((s) => s.kind === 2)).toHaveLength(1);
          expect(server.name).toBe('GET /api/users/:id');
          expect(server.attributes['http.route']).toBe('/api/users/:id');
          expect(server.scope.name).toBe(scope);
          const child = spans.find((s) => s.name === 'child');
          expect(child?.parentSpanId).toBe(server.spanId);
          expect(child?.traceId).toBe(server.traceId);
        });
      }
    }
  });
}

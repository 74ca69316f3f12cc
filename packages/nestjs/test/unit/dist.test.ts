/**
 * The published build (dist/) in real applications: a Nest app compiled by tsc (with decorator
 * metadata, as users build it) to CommonJS and to ES modules, run with Node on every Nest major of
 * the matrix and both platforms, exporting to a real OTLP receiver. @tracewire/nestjs is installed
 * into each matrix directory as npm would (package.json + dist), so it resolves that directory's Nest.
 * Needs `npx tsup` first (turbo's `test` depends on `build`).
 */
import { execFile, execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startOtlpReceiver } from '@tracewire/test-utils';
import { beforeAll, describe, expect, it } from 'vitest';
import { newTraceparent, SERVER } from '../tracing.js';

const run = promisify(execFile);
const pkgDir = fileURLToPath(new URL('../../', import.meta.url));
const matrixDir = (major: string) => join(pkgDir, 'test', 'matrix', major);
const appsDir = (major: string) => join(matrixDir(major), 'node_modules', '.tracewire-apps');
const majors = ['nest10', 'nest11', 'nest12'];
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');

beforeAll(() => {
  if (!existsSync(join(pkgDir, 'dist', 'index.cjs')))
    throw new Error('run `npx tsup` in packages/nestjs first');
  // Compile the app once per module system, then place it (and the package) in each matrix directory.
  const out = join(appsDir('nest12'));
  rmSync(out, { recursive: true, force: true });
  for (const format of ['cjs', 'esm']) {
    execFileSync(process.execPath, [
      tsc,
      '-p',
      join(pkgDir, 'test', 'fixtures', `tsconfig.${format}.json`),
      '--outDir',
      join(out, format),
    ]);
    writeFileSync(
      join(out, format, 'package.json'),
      JSON.stringify({ type: format === 'esm' ? 'module' : 'commonjs' }),
    );
  }
  for (const major of majors) {
    if (major !== 'nest12') cpSync(out, appsDir(major), { recursive: true });
    const installed = join(matrixDir(major), 'node_modules', '@tracewire', 'nestjs');
    rmSync(installed, { recursive: true, force: true });
    mkdirSync(installed, { recursive: true });
    cpSync(join(pkgDir, 'package.json'), join(installed, 'package.json'));
    cpSync(join(pkgDir, 'dist'), join(installed, 'dist'), { recursive: true });
  }
}, 60_000);

describe.each(majors)('published build on %s', (major) => {
  for (const format of ['cjs', 'esm'] as const) {
    for (const platform of ['express', 'fastify'] as const) {
      it(`${format === 'cjs' ? 'CommonJS' : 'ESM'} app on ${platform}: SERVER span with route, Nest attributes and a @Traced child`, async () => {
        const receiver = await startOtlpReceiver();
        try {
          const tp = newTraceparent();
          const { stdout } = await run(process.execPath, [join(appsDir(major), format, 'app.js')], {
            env: { ...process.env, OTLP_URL: receiver.tracesUrl, TRACEPARENT: tp.header, PLATFORM: platform },
            timeout: 20_000,
          });
          expect(stdout.trim()).toBe('200 hello ada');
          const spans = await receiver.waitForSpans(2);
          const server = spans.find((s) => s.kind === SERVER)!;
          expect(server.name).toBe('GET /greet/:name');
          expect(server.traceId).toBe(tp.traceId);
          expect(server.attributes['nestjs.controller']).toBe('GreetController');
          expect(server.attributes['nestjs.handler']).toBe('get');
          const child = spans.find((s) => s.name === 'GreetService.greet')!;
          expect(child.parentSpanId).toBe(server.spanId);
        } finally {
          await receiver.close();
        }
      }, 30_000);
    }
  }
});

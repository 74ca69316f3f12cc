/**
 * The published build (`dist/`, made by `npm run build` before the tests): both the ESM and the CJS
 * output report the package's version as `telemetry.sdk.version`, and an app that loads both builds
 * still gets one SDK (state on `globalThis`, dual package hazard).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

function node(args: string[]): string {
  if (!existsSync(`${root}dist/index.js`) || !existsSync(`${root}dist/index.cjs`)) {
    throw new Error('packages/core/dist is missing: run `npm run build` first (npm test does)');
  }
  return execFileSync(process.execPath, args, {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, OTEL_SDK_DISABLED: '' },
  });
}

describe('published build', () => {
  it('ESM and CJS both report the package version as telemetry.sdk.version', () => {
    const esm = node([
      '--input-type=module',
      '-e',
      "import { detectResource, SDK_VERSION } from './dist/index.js'; console.log(JSON.stringify([SDK_VERSION, detectResource({ env: {} }).attributes['telemetry.sdk.version']]))",
    ]);
    const cjs = node([
      '-e',
      "const { detectResource, SDK_VERSION } = require('./dist/index.cjs'); console.log(JSON.stringify([SDK_VERSION, detectResource({ env: {} }).attributes['telemetry.sdk.version']]))",
    ]);
    expect(JSON.parse(esm)).toEqual([version, version]);
    expect(JSON.parse(cjs)).toEqual([version, version]);
  });

  it('one SDK per process when both builds are loaded: start() from ESM returns the CJS handle', () => {
    const out = node([
      '--input-type=module',
      '-e',
      `import { createRequire } from 'node:module';
       import * as esm from './dist/index.js';
       const cjs = createRequire(import.meta.url)('./dist/index.cjs');
       const opts = { env: {}, traceExporter: 'none', outgoing: false, shutdownOnSignals: false };
       const a = cjs.start(opts);
       const b = esm.start(opts);
       const { trace } = await import('@opentelemetry/api');
       const span = trace.getTracer('t').startSpan('s');
       console.log(JSON.stringify({ same: a === b, recording: span.isRecording() }));
       await a.shutdown();`,
    ]);
    expect(JSON.parse(out)).toEqual({ same: true, recording: true });
  });
});

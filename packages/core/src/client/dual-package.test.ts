/**
 * Dual package hazard: an application can load both the CommonJS and the ESM build of
 * @tracewire/core (one dependency `require`s it, another `import`s it). Two copies must still make
 * one subscription, so each request gets one span and one `traceparent`, and either copy can turn
 * tracing off. The copies are real separate bundles of the sources (esbuild, ESM and CJS, as tsup
 * builds them), loaded by a plain `node` process (no Vitest module runner in between).
 */
import { type BuildOptions, build } from 'esbuild';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../../../', import.meta.url));
let dir: string;

/** Runs in the child: both copies enabled, three traced fetches (both on, stale disable, disabled). */
const CHILD = `
import { createRequire } from 'node:module';
import http from 'node:http';
const require = createRequire(import.meta.url);
const esm = await import('./core.mjs');
const cjs = require('./core.cjs');
const api = require('@opentelemetry/api');
const { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } = require('@opentelemetry/sdk-trace-base');
const { AsyncLocalStorage } = require('node:async_hooks');
const als = new AsyncLocalStorage();
const exporter = new InMemorySpanExporter();
api.context.setGlobalContextManager({
  active: () => als.getStore() ?? api.ROOT_CONTEXT,
  with: (ctx, fn, thisArg, ...args) => als.run(ctx, () => fn.apply(thisArg, args)),
  bind: (_ctx, target) => target,
  enable() { return this; },
  disable() { return this; },
});
api.trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
api.propagation.setGlobalPropagator(new esm.W3CTraceContextPropagator());
const seen = [];
const server = http.createServer((req, res) => {
  seen.push(req.rawHeaders.filter((h, i) => i % 2 === 0 && h.toLowerCase() === 'traceparent').length);
  res.end('x');
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const url = 'http://127.0.0.1:' + server.address().port + '/';
const tracer = api.trace.getTracer('t');
const call = () => tracer.startActiveSpan('p', async (p) => { await (await fetch(url)).text(); p.end(); });
const clientSpans = () => exporter.getFinishedSpans().filter((s) => s.kind === api.SpanKind.CLIENT).length;
const offEsm = esm.enableOutgoingTracing();
const offCjs = cjs.enableOutgoingTracing();
const out = { distinctCopies: esm.enableOutgoingTracing !== cjs.enableOutgoingTracing };
await call();
out.bothOn = { spans: clientSpans(), traceparents: seen[0] };
offEsm();
await call();
out.afterStaleDisable = { spans: clientSpans(), traceparents: seen[1] };
offCjs();
await call();
out.afterDisable = { spans: clientSpans(), traceparents: seen[2] };
server.close();
console.log(JSON.stringify(out));
`;

beforeAll(async () => {
  // Under the repository's node_modules so the child resolves @opentelemetry/* like an application.
  const cache = join(root, 'node_modules', '.cache');
  mkdirSync(cache, { recursive: true });
  dir = mkdtempSync(join(cache, 'tracewire-dual-'));
  const entry = fileURLToPath(new URL('../index.ts', import.meta.url));
  // @opentelemetry/api stays shared: it is a peer dependency (one copy per application).
  const common: BuildOptions = {
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    external: ['@opentelemetry/api'],
  };
  await build({ ...common, format: 'esm', outfile: join(dir, 'core.mjs') });
  await build({ ...common, format: 'cjs', outfile: join(dir, 'core.cjs') });
  writeFileSync(join(dir, 'child.mjs'), CHILD);
}, 60_000);

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('CJS and ESM builds loaded together', () => {
  it('share one subscription: one span and one traceparent per request; either copy disables', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [join(dir, 'child.mjs')], {
      timeout: 30_000,
    });
    expect(JSON.parse(stdout)).toEqual({
      distinctCopies: true,
      bothOn: { spans: 1, traceparents: 1 },
      // The ESM copy's disable was replaced by the later CJS call: a no-op.
      afterStaleDisable: { spans: 2, traceparents: 1 },
      afterDisable: { spans: 2, traceparents: 0 },
    });
  });
});

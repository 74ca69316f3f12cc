/**
 * The published build (dist/), not the source: required from CommonJS and imported from ESM, on
 * both Fastify majors, exporting to a real OTLP receiver. Needs `npx tsup` first (turbo's `test`
 * depends on `build`).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startOtlpReceiver } from '@tracewire/test-utils';
import { describe, expect, it } from 'vitest';
import { newTraceparent, SERVER } from './tracing.js';

const run = promisify(execFile);
const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

describe('published build', () => {
  it('dist/ exists (run `npx tsup` in packages/fastify)', () => {
    expect(existsSync(fileURLToPath(new URL('../dist/index.cjs', import.meta.url)))).toBe(true);
    expect(existsSync(fileURLToPath(new URL('../dist/index.js', import.meta.url)))).toBe(true);
  });

  for (const major of ['fastify4', 'fastify5']) {
    for (const [format, file, route] of [
      ['CommonJS', 'app.cjs', '/cjs/:id'],
      ['ESM', 'app.mjs', '/esm/:id'],
    ] as const) {
      it(`${format} app on ${major}: one SERVER span with the route and a child span`, async () => {
        const receiver = await startOtlpReceiver();
        try {
          const tp = newTraceparent();
          await run(process.execPath, [fixture(file)], {
            env: {
              ...process.env,
              OTLP_URL: receiver.tracesUrl,
              TRACEPARENT: tp.header,
              FASTIFY_MODULE: major,
            },
            timeout: 15_000,
          });
          const spans = await receiver.waitForSpans(2);
          expect(spans).toHaveLength(2);
          const server = spans.find((s) => s.kind === SERVER)!;
          expect(server.name).toBe(`GET ${route}`);
          expect(server.traceId).toBe(tp.traceId);
          expect(server.scope.name).toBe('@tracewire/fastify');
          expect(spans.find((s) => s.name === 'child')!.parentSpanId).toBe(server.spanId);
        } finally {
          await receiver.close();
        }
      });
    }
  }
});

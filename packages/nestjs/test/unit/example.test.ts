/**
 * The runnable example (apps/examples/nestjs) really traces: compile it with tsc as its README says,
 * run its smoke mode on both platforms against a receiver. Uses the published builds (dist/).
 */
import { execFile, execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startOtlpReceiver } from '@tracewire/test-utils';
import { beforeAll, describe, expect, it } from 'vitest';
import { SERVER } from '../tracing.js';

const run = promisify(execFile);
const exampleDir = fileURLToPath(new URL('../../../../apps/examples/nestjs/', import.meta.url));

beforeAll(() => {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  execFileSync(process.execPath, [tsc, '-p', `${exampleDir}tsconfig.json`]);
}, 60_000);

describe.each(['express', 'fastify'])('apps/examples/nestjs on %s', (platform) => {
  it('exports the spans the example describes', async () => {
    const receiver = await startOtlpReceiver();
    try {
      const args = [`${exampleDir}dist/main.js`, '--smoke', ...(platform === 'fastify' ? ['--fastify'] : [])];
      const { stdout } = await run(process.execPath, args, {
        env: { ...process.env, OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url },
        timeout: 20_000,
      });
      expect(stdout).toContain('403 POST /api/v1/users/42/ban');
      const spans = await receiver.waitFor((s) => s.filter((x) => x.kind === SERVER).length >= 6);
      const servers = spans.filter((x) => x.kind === SERVER);
      expect(servers.map((x) => `${x.name} ${x.attributes['http.response.status_code']}`).sort()).toEqual([
        'GET /api/v1/users/:id 200',
        'GET /api/v1/users/:id 404',
        'GET /api/v1/users/:id/activity 200',
        'GET 404',
        'POST /api/v1/users/:id/ban 403',
        'POST /api/v1/users/:id/charge 500',
      ]);
      const ok = servers.find(
        (x) => x.name === 'GET /api/v1/users/:id' && x.attributes['http.response.status_code'] === 200,
      )!;
      expect(ok.attributes['nestjs.controller']).toBe('UsersController');
      expect(
        spans.find((x) => x.name === 'UsersService.findOne' && x.traceId === ok.traceId)!.parentSpanId,
      ).toBe(ok.spanId);
    } finally {
      await receiver.close();
    }
  }, 30_000);
});

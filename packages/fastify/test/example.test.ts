/** The runnable example (apps/examples/fastify) really traces: run its smoke mode against a receiver. */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startOtlpReceiver } from '@tracewire/test-utils';
import { expect, it } from 'vitest';
import { SERVER } from './tracing.js';

const run = promisify(execFile);

it('apps/examples/fastify --smoke exports the spans its README describes', async () => {
  const receiver = await startOtlpReceiver();
  try {
    const app = fileURLToPath(new URL('../../../apps/examples/fastify/app.mjs', import.meta.url));
    const { stdout } = await run(process.execPath, [app, '--smoke'], {
      env: { ...process.env, OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url },
      timeout: 20_000,
    });
    expect(stdout).toContain('200 GET /api/v1/users/42');
    const spans = await receiver.waitFor((s) => s.filter((x) => x.kind === SERVER).length >= 3);
    const servers = spans.filter((x) => x.kind === SERVER);
    expect(servers.map((x) => x.name).sort()).toEqual([
      'GET',
      'GET /api/v1/users/:id',
      'POST /api/v1/orders',
    ]);
    const user = servers.find((x) => x.name === 'GET /api/v1/users/:id')!;
    expect(user.attributes['app.user_id']).toBe('42');
    expect(spans.find((x) => x.name === 'authorize')!.parentSpanId).toBe(user.spanId);
    expect(servers.find((x) => x.name === 'POST /api/v1/orders')!.status.code).toBe(2);
  } finally {
    await receiver.close();
  }
});

/** The runnable example in apps/examples/koa keeps working and produces the spans its comments promise. */
import { startOtlpReceiver } from '@tracewire/test-utils';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

const run = promisify(execFile);
const example = fileURLToPath(new URL('../../../apps/examples/koa/app.mjs', import.meta.url));

it('apps/examples/koa --smoke: one span per request, named by the full route template', async () => {
  const receiver = await startOtlpReceiver();
  try {
    const { stdout } = await run(process.execPath, [example, '--smoke'], {
      timeout: 30_000,
      env: { ...process.env, OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url },
    });
    expect(stdout).toContain('503 GET /orders/9');
    const names = receiver
      .spans()
      .filter((s) => s.kind === 2)
      .map((s) => s.name)
      .sort();
    expect(names).toEqual([
      'GET',
      'GET /api/orgs/:org/repos/:repo/issues/:n',
      'GET /api/users/:id',
      'GET /orders/:id',
    ]);
    expect(receiver.spans().find((s) => s.name === 'GET /orders/:id')?.attributes['error.type']).toBe(
      'Error',
    );
  } finally {
    await receiver.close();
  }
});

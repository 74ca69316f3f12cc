/** Type tests of the public API (checked by `tsc --noEmit -p tsconfig.json` and `vitest --typecheck`). */
import type { Context, Span } from '@opentelemetry/api';
import fastify, { type FastifyPluginCallback } from 'fastify';
import { describe, expectTypeOf, it } from 'vitest';
import { type TracewireFastifyOptions, type TracewireRequestContext, tracewire } from '../src/index.js';

describe('@tracewire/fastify types', () => {
  it('is a Fastify plugin taking its options', () => {
    expectTypeOf(tracewire).toExtend<FastifyPluginCallback<TracewireFastifyOptions>>();
    const app = fastify();
    // register() accepts it with and without options
    void app.register(tracewire);
    void app.register(tracewire, {
      ignore: ['/healthz', /^\/metrics/],
      captureHeaders: { request: ['x-id'] },
    });
    // @ts-expect-error: ignore takes strings, RegExps or predicates
    void app.register(tracewire, { ignore: 42 });
  });

  it('decorates requests with request.tracewire and route config with tracewire: false', () => {
    const app = fastify();
    app.get('/x', { config: { tracewire: false } }, async (request) => {
      expectTypeOf(request.tracewire).toEqualTypeOf<TracewireRequestContext>();
      expectTypeOf(request.tracewire.span).toEqualTypeOf<Span>();
      expectTypeOf(request.tracewire.context).toEqualTypeOf<Context>();
      return 'ok';
    });
  });

  it('options are the core lifecycle options', () => {
    expectTypeOf<TracewireFastifyOptions['spanName']>().toEqualTypeOf<
      ((req: import('node:http').IncomingMessage, route: string | undefined) => string) | undefined
    >();
  });
});

import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const pkg = (name: string) => fileURLToPath(new URL(`./packages/${name}/src/index.ts`, import.meta.url));

/**
 * Shared Vitest settings: tests import workspace packages from source, so a change in core is seen
 * by the adapter suites without a rebuild. Tests that check the published build (CJS/ESM/bundled)
 * spawn Node on `dist/` explicitly.
 */
export default defineConfig({
  resolve: {
    alias: {
      '@tracewire/core': pkg('core'),
      '@tracewire/express': pkg('express'),
      '@tracewire/koa': pkg('koa'),
      '@tracewire/fastify': pkg('fastify'),
      '@tracewire/nestjs': pkg('nestjs'),
      '@tracewire/viewer': fileURLToPath(new URL('./apps/viewer/src/index.ts', import.meta.url)),
    },
  },
  test: {
    pool: 'forks',
    testTimeout: 20_000,
    hookTimeout: 30_000,
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
  },
});

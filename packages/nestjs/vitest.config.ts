import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
import shared from '../../vitest.shared.ts';

/**
 * Two kinds of suites:
 * - `unit`: the workspace's Nest 12 (decorator, module options, non-HTTP contexts, the published build);
 * - `nest10` / `nest11` / `nest12`: the same application suite against each Nest major installed in
 *   `test/matrix/<major>` (see install.mjs). `@nestjs/core` resolves `@nestjs/common` by name, so
 *   the package source must import the matrix copy too: it is aliased per project.
 */
const majors = ['nest10', 'nest11', 'nest12'] as const;
const matrixModules = (major: string, name: string) =>
  fileURLToPath(new URL(`./test/matrix/${major}/node_modules/${name}`, import.meta.url));

// Not `mergeConfig(shared, ...)`: it would concatenate the shared `include` into every project's.
const { include: _sharedInclude, ...sharedTest } = shared.test ?? {};

export default defineConfig({
  resolve: shared.resolve,
  test: {
    ...sharedTest,
    globalSetup: ['./test/global-setup.ts'],
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          // Type tests of the public API (`*.test-d.ts`, expectTypeOf) run with the unit project.
          typecheck: { enabled: true, include: ['test/unit/**/*.test-d.ts'], tsconfig: './tsconfig.json' },
        },
      },
      ...majors.map((major) => ({
        extends: true as const,
        resolve: {
          alias: {
            '@nestjs/core': matrixModules(major, '@nestjs/core'),
            '@nestjs/common': matrixModules(major, '@nestjs/common'),
            // Nest checks `instanceof Observable` with its own rxjs: one copy, as a peer dependency gives users.
            rxjs: matrixModules(major, 'rxjs'),
          },
        },
        test: { name: major, include: ['test/app/**/*.test.ts'], env: { NEST_MAJOR: major } },
      })),
    ],
  },
});

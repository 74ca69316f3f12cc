import { readFileSync } from 'node:fs';
import { defineConfig } from 'tsup';

// `telemetry.sdk.version` comes from this package's version, written into both the ESM and the
// CJS output at build time (src/sdk/version.ts).
const { version } = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8')) as {
  version: string;
};

export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
  platform: 'node',
  treeshake: true,
  define: { __TRACEWIRE_VERSION__: JSON.stringify(version) },
});

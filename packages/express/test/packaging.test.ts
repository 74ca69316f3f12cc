/**
 * The published build, as users load it: CommonJS `require`, native ESM `import`, and an esbuild
 * bundle, each with Express 4 and 5 and both SDKs, exporting to a real OTLP receiver.
 */
import { publishedBuildSuite } from '@tracewire/test-utils/published-build';

publishedBuildSuite({
  testFile: import.meta.url,
  framework: 'express',
  versions: ['express4', 'express5'],
  envVar: 'EXPRESS',
  scope: '@tracewire/express',
});

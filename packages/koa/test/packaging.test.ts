/**
 * The published build, as users load it: CommonJS `require`, native ESM `import`, and an esbuild
 * bundle, each with Koa 2 and 3 and both SDKs, exporting to a real OTLP receiver.
 */
import { publishedBuildSuite } from '@tracewire/test-utils/published-build';

publishedBuildSuite({
  testFile: import.meta.url,
  framework: 'koa',
  versions: ['koa2', 'koa3'],
  envVar: 'KOA',
  scope: '@tracewire/koa',
});

// Shared with the Express and Koa tests: see @tracewire/test-utils/official-sdk.
export * from '@tracewire/test-utils/official-sdk';

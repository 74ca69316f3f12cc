// Shared with the Fastify and NestJS tests: see @tracewire/test-utils/tracewire-sdk.
export * from '@tracewire/test-utils/tracewire-sdk';

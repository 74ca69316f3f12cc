/**
 * Outgoing requests: CLIENT spans and context propagation for fetch/undici and node:http through
 * `diagnostics_channel` (no patching). See docs/outgoing-requests.md.
 */
export { enableOutgoingTracing } from './enable.js';
export type { OutgoingTracingOptions } from './options.js';

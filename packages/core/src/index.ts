/**
 * @tracewire/core: the engine behind every tracewire adapter. Exports are by name; each section is
 * owned by one area of the package.
 */

// --- sdk (types shared with the official SDK) ---
export { ExportResultCode } from './sdk/types.js';
export type {
  ExportResult,
  InstrumentationScope,
  ReadableSpan,
  Resource,
  SpanExporter,
  SpanLimits,
  SpanProcessor,
  TimedEvent,
} from './sdk/types.js';

// --- sdk ---

// --- propagation ---

// --- export ---

// --- http server lifecycle ---
export type {
  HttpServerTracing,
  HttpServerTracingOptions,
  IgnoreMatcher,
  ServerRequestTrace,
} from './http/types.js';

// --- outgoing (client) ---

// --- start ---

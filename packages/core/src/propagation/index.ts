/**
 * Propagation: W3C Trace Context Level 2 (with a strict `tracestate`), W3C Baggage, B3 (single and
 * multi header) and their composition, as `TextMapPropagator`s of `@opentelemetry/api` that work with
 * any SDK.
 */
export {
  B3_CONTEXT_HEADER,
  B3_DEBUG_FLAG_KEY,
  B3_SAMPLING_DECISION_KEY,
  B3Propagator,
  getB3SamplingDecision,
  parseB3Single,
  X_B3_FLAGS,
  X_B3_PARENT_SPAN_ID,
  X_B3_SAMPLED,
  X_B3_SPAN_ID,
  X_B3_TRACE_ID,
} from './b3.js';
export type { B3PropagatorOptions, B3SamplingDecision } from './b3.js';
export {
  BAGGAGE_HEADER,
  BAGGAGE_MAX_BYTES,
  BAGGAGE_MAX_MEMBERS,
  encodeBaggageValue,
  isValidBaggageKey,
  parseBaggageHeader,
  serializeBaggage,
  W3CBaggagePropagator,
} from './baggage.js';
export { caseInsensitiveGetter, isTracingSuppressed, SUPPRESS_TRACING_KEY } from './carrier.js';
export { CompositePropagator, KNOWN_PROPAGATOR_NAMES, propagatorFromNames } from './composite.js';
export type { CompositePropagatorOptions } from './composite.js';
export {
  parseTraceParent,
  TRACE_FLAG_RANDOM,
  TRACE_PARENT_HEADER,
  TRACE_STATE_HEADER,
  W3CTraceContextPropagator,
} from './trace-context.js';
export type { ParsedTraceParent } from './trace-context.js';
export {
  isStrictTraceState,
  isValidTraceStateKey,
  isValidTraceStateValue,
  MAX_TRACE_STATE_MEMBERS,
  TraceState,
} from './trace-state.js';

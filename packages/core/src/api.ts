/**
 * The values tracewire uses from `@opentelemetry/api`, read once when this package loads.
 *
 * Why: in the CommonJS build, each use of an API export (`api.trace`, `api.SpanKind.SERVER`) is a
 * property load from the API's `module.exports`. The API defines its exports as getters with
 * `Object.defineProperty`, and V8 keeps that object in dictionary mode (`%HasFastProperties` is
 * false on Node 20 and 24), so TurboFan cannot inline such a load: it calls the generic LoadIC
 * (~140 instructions each, callgrind; five in `begin` alone on every request). These exports are
 * constants (the API's singletons, enums and functions), so one read here is the same value.
 * The ESM build is unaffected either way (Node gives it module bindings).
 *
 * Everything in this package takes API values from here; types still come from the API itself.
 */
import * as api from '@opentelemetry/api';

export const context = api.context;
export const propagation = api.propagation;
export const trace = api.trace;
export const diag = api.diag;
export const ROOT_CONTEXT = api.ROOT_CONTEXT;
export const INVALID_SPAN_CONTEXT = api.INVALID_SPAN_CONTEXT;
export const isSpanContextValid = api.isSpanContextValid;
export const createContextKey = api.createContextKey;
export const baggageEntryMetadataFromString = api.baggageEntryMetadataFromString;
export const SpanKind = api.SpanKind;
export type SpanKind = api.SpanKind;
export const SpanStatusCode = api.SpanStatusCode;
export type SpanStatusCode = api.SpanStatusCode;
export const TraceFlags = api.TraceFlags;
export type TraceFlags = api.TraceFlags;
export const DiagLogLevel = api.DiagLogLevel;
export type DiagLogLevel = api.DiagLogLevel;
export const DiagConsoleLogger = api.DiagConsoleLogger;
export type DiagConsoleLogger = api.DiagConsoleLogger;

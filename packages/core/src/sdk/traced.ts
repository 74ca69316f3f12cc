/**
 * `traced()`: run a function in a child span of the active one, with the exception recorded and
 * the status set to ERROR when it throws or its promise rejects (semantic conventions,
 * "Recording exceptions"; API spec, "Set Status").
 */
import type {
  Span as ApiSpan,
  Attributes,
  Context,
  Link,
  SpanKind,
  TimeInput,
  Tracer,
} from '@opentelemetry/api';
import { SpanStatusCode, trace } from '../api.js';

/** Options of {@link traced}. */
export interface TracedOptions {
  /** Span kind; default `INTERNAL`. */
  kind?: SpanKind;
  /** Attributes set at span start (visible to samplers). */
  attributes?: Attributes;
  /** Links to other spans. */
  links?: Link[];
  /** Start a new trace instead of a child of the active span. */
  root?: boolean;
  /** Start time; default now. */
  startTime?: TimeInput;
  /** Parent context; default the active context. */
  context?: Context;
  /** Tracer to use; default `trace.getTracer('tracewire')` from the global provider. */
  tracer?: Tracer;
}

const TRACER_NAME = 'tracewire';

function isPromiseLike(v: unknown): v is PromiseLike<unknown> {
  return (
    v !== null &&
    (typeof v === 'object' || typeof v === 'function') &&
    typeof (v as PromiseLike<unknown>).then === 'function'
  );
}

/** Record `err` on `span` as an exception event and set status ERROR with its message. */
export function recordError(span: ApiSpan, err: unknown): void {
  try {
    span.recordException(err as Error);
    const message = err instanceof Error ? err.message : typeof err === 'string' ? err : undefined;
    span.setStatus(
      message === undefined ? { code: SpanStatusCode.ERROR } : { code: SpanStatusCode.ERROR, message },
    );
  } catch {
    // A foreign span implementation threw: telemetry never breaks the caller.
  }
}

/**
 * Runs `fn` in a new child span named `name` (kind INTERNAL unless told otherwise) and ends the
 * span when `fn` returns, or when the promise it returns settles. A throw or a rejection is
 * recorded as an `exception` event, the status becomes ERROR, and the error is re-thrown unchanged.
 * Works with whatever SDK is registered globally.
 *
 * @example
 * ```ts
 * import { traced } from '@tracewire/core';
 *
 * const user = await traced('load user', async (span) => {
 *   span.setAttribute('user.id', id);
 *   return db.users.find(id);
 * });
 * ```
 */
export function traced<T>(name: string, fn: (span: ApiSpan) => T, options?: TracedOptions): T {
  if (typeof fn !== 'function') throw new TypeError('tracewire: traced(name, fn): fn must be a function');
  const { tracer = trace.getTracer(TRACER_NAME), context: parentContext, ...spanOptions } = options ?? {};
  const run = (span: ApiSpan): T => {
    let result: T;
    try {
      result = fn(span);
    } catch (err) {
      recordError(span, err);
      span.end();
      throw err;
    }
    if (isPromiseLike(result)) {
      return Promise.resolve(result).then(
        (value) => {
          span.end();
          return value;
        },
        (err: unknown) => {
          recordError(span, err);
          span.end();
          throw err;
        },
      ) as T;
    }
    span.end();
    return result;
  };
  return parentContext !== undefined
    ? tracer.startActiveSpan(name, spanOptions, parentContext, run)
    : tracer.startActiveSpan(name, spanOptions, run);
}

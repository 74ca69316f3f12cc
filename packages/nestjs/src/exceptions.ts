/**
 * Records the exceptions Nest hands to its exception filters on the request's server span, without
 * an interceptor. Once any interceptor exists, Nest runs every request through its RxJS interceptor
 * chain, which makes a hello-world Nest request cost half as much again (104k machine instructions
 * instead of 68k on Nest 12 + Fastify, docs/nestjs.md); an exception filter costs nothing until an
 * exception is thrown.
 *
 * The filter below never catches anything. Nest picks the filter for an exception by testing
 * `exception instanceof T` against each filter's `@Catch(T)` types; the first filter that matches
 * wins. This filter's only type is {@link SeenByNest}, whose `instanceof` test records the exception
 * and answers "no": the filter Nest would have chosen without it still answers the request.
 */
import * as api from '@opentelemetry/api';
import { Catch, type ExceptionFilter } from '@nestjs/common';
import { requestTraceOf, type ServerRequestTrace } from '@tracewire/core';

// Read once: in the CommonJS build each `api.x` would be a load from the API's exports object,
// which V8 keeps in dictionary mode (see @tracewire/core's src/api.ts).
const { context } = api;

/**
 * Requests Nest answers with its own "not found" (no route matched): their `NotFoundException` is
 * Nest's way of answering, not an error of the application, and is not recorded.
 */
const unmatched = new WeakSet<ServerRequestTrace>();

/** Marks the request running in the active context as one no route matched (see {@link unmatched}). */
export function markUnmatched(): void {
  const t = requestTraceOf(context.active());
  if (t !== undefined) unmatched.add(t);
}

/**
 * The exception type {@link TracewireExceptionObserver} is bound to. Nest's test `exception instanceof
 * SeenByNest` records the exception on the server span of the request it was thrown in (found in the
 * active context: Nest calls its exception filters in the request's async context) and is never
 * true. Exceptions outside a traced HTTP request (a microservice message, a WebSocket event) find no
 * request and are left alone.
 */
// biome-ignore lint/complexity/noStaticOnlyClass: `@Catch()` takes exception classes; only this one's `instanceof` test is used
class SeenByNest {
  static [Symbol.hasInstance](exception: unknown): boolean {
    try {
      const t = requestTraceOf(context.active());
      if (t !== undefined && !unmatched.has(t)) t.recordError(exception);
    } catch {
      // never let telemetry change which filter answers the request
    }
    return false;
  }
}

/**
 * The global exception filter `TracewireModule` installs: it records every exception Nest hands to
 * its global exception filters during a traced request (from middleware, guards, pipes, interceptors
 * and handlers) as an `exception` event on the server span, and never handles one itself: your
 * filters and Nest's built-in one answer the request as before. You do not need to add it yourself.
 * @example
 * ```ts
 * // what TracewireModule.forRoot() registers for you:
 * { provide: APP_FILTER, useFactory: () => new TracewireExceptionObserver() }
 * ```
 */
export class TracewireExceptionObserver implements ExceptionFilter {
  /** Never called: the filter matches no exception (see {@link SeenByNest}). */
  catch(): void {}
}
Catch(SeenByNest)(TracewireExceptionObserver);

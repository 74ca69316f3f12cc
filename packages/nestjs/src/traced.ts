/**
 * `@Traced()`: a child span around a provider method, for sync, async and Observable returns.
 */
import type { Context, Span } from '@opentelemetry/api';
import * as api from '@opentelemetry/api';
import { Observable } from 'rxjs';
import { SCOPE_NAME, VERSION } from './options.js';

// Read once: in the CommonJS build each `api.x` would be a load from the API's exports object,
// which V8 keeps in dictionary mode (see @tracewire/core's src/api.ts).
const { context, SpanStatusCode, trace } = api;

// The global API's tracer is a proxy: taken now, it follows an SDK registered later.
const tracer = trace.getTracer(SCOPE_NAME, VERSION);

type Metadata = {
  getOwnMetadataKeys?(target: object): unknown[];
  getOwnMetadata?(key: unknown, target: object): unknown;
  defineMetadata?(key: unknown, value: unknown, target: object): void;
};

function errorType(err: unknown): string {
  if (typeof err !== 'object' || err === null) return '_OTHER';
  const name = (err as { constructor?: { name?: unknown } }).constructor?.name;
  return typeof name === 'string' && name !== '' && name !== 'Object' ? name : '_OTHER';
}

/** Records an exception the way semconv describes it (exception event, ERROR status, `error.type`). */
function fail(span: Span, err: unknown): void {
  try {
    span.recordException(err instanceof Error ? err : String(err));
    span.setAttribute('error.type', errorType(err));
    span.setStatus(
      err instanceof Error
        ? { code: SpanStatusCode.ERROR, message: err.message }
        : { code: SpanStatusCode.ERROR },
    );
  } catch {
    // telemetry never changes what the caller sees
  }
}

function isPromiseLike(v: unknown): v is PromiseLike<unknown> {
  return (
    (typeof v === 'object' || typeof v === 'function') &&
    v !== null &&
    typeof (v as { then?: unknown }).then === 'function'
  );
}

function isObservable(v: unknown): v is Observable<unknown> {
  // rxjs's own check is duck-typed too: the app's rxjs copy may not be ours.
  return (
    v instanceof Observable ||
    (typeof v === 'object' &&
      v !== null &&
      typeof (v as { subscribe?: unknown }).subscribe === 'function' &&
      typeof (v as { lift?: unknown }).lift === 'function')
  );
}

/**
 * A cold Observable does its work when subscribed, not when created: the span started for the call
 * stays open through the first subscription and ends when it completes, errors or is unsubscribed.
 * Each later subscription (a retry, a second consumer) gets a span of its own.
 */
function tracedObservable(
  name: string,
  parent: Context,
  first: Span,
  source: Observable<unknown>,
): Observable<unknown> {
  let firstUsed = false;
  return new Observable<unknown>((subscriber) => {
    let span: Span;
    if (firstUsed) span = tracer.startSpan(name, undefined, parent);
    else {
      firstUsed = true;
      span = first;
    }
    const ctx = trace.setSpan(parent, span);
    let ended = false;
    const end = () => {
      if (!ended) {
        ended = true;
        span.end();
      }
    };
    const subscription = context.with(ctx, () =>
      source.subscribe({
        next: (v) => subscriber.next(v),
        error: (err: unknown) => {
          fail(span, err);
          end();
          subscriber.error(err);
        },
        complete: () => {
          end();
          subscriber.complete();
        },
      }),
    );
    return () => {
      subscription.unsubscribe();
      end(); // unsubscribed before completion: the span covers what ran
    };
  });
}

/**
 * Runs `fn` in a child span named `name` of the active span, recording an exception (event, ERROR
 * status, `error.type`) and ending the span when the result settles: on return for a value, when a
 * promise settles, when an Observable completes, errors or is unsubscribed.
 */
export function runTraced<T>(
  name: string,
  fn: (this: unknown, ...args: unknown[]) => T,
  self: unknown,
  args: unknown[],
): T {
  const parent = context.active();
  const span = tracer.startSpan(name, undefined, parent);
  const ctx = trace.setSpan(parent, span);
  let result: T;
  try {
    result = context.with(ctx, () => fn.apply(self, args));
  } catch (err) {
    fail(span, err);
    span.end();
    throw err;
  }
  if (isPromiseLike(result)) {
    return Promise.resolve(result).then(
      (v) => {
        span.end();
        return v;
      },
      (err: unknown) => {
        fail(span, err);
        span.end();
        throw err;
      },
    ) as T;
  }
  if (isObservable(result)) {
    return tracedObservable(name, parent, span, result) as T;
  }
  span.end();
  return result;
}

/**
 * Wraps a provider (or controller) method in a child span of the active span, named `name` or
 * `ClassName.method`. Works for methods returning a value, a Promise or an Observable; an exception
 * or rejection is recorded on the span and rethrown unchanged. Metadata other decorators attached to
 * the method (`@Get()`, `@UseGuards()`, ...) is kept.
 *
 * @example
 * ```ts
 * @Injectable()
 * export class UsersService {
 *   @Traced()                      // span "UsersService.findOne"
 *   async findOne(id: string) { ... }
 *
 *   @Traced('users.search')
 *   search(q: string): Observable<User[]> { ... }
 * }
 * ```
 */
export function Traced(name?: string): MethodDecorator {
  if (name !== undefined && (typeof name !== 'string' || name === '')) {
    throw new TypeError(`tracewire: @Traced(name) needs a non-empty string, got ${typeof name}`);
  }
  return (target, key, descriptor) => {
    const original = descriptor.value as unknown;
    if (typeof original !== 'function') {
      throw new TypeError(`tracewire: @Traced() decorates methods; "${String(key)}" is not a method`);
    }
    const owner = typeof target === 'function' ? target.name : (target as object).constructor?.name;
    const spanName = name ?? `${owner ?? 'Object'}.${String(key)}`;
    const fn = original as (this: unknown, ...args: unknown[]) => unknown;
    const wrapped = {
      [fn.name](this: unknown, ...args: unknown[]): unknown {
        return runTraced(spanName, fn, this, args);
      },
    }[fn.name] as typeof fn;
    // Nest reads route, guard and pipe metadata from the method itself (reflect-metadata).
    const reflect = Reflect as unknown as Metadata;
    if (typeof reflect.getOwnMetadataKeys === 'function' && typeof reflect.defineMetadata === 'function') {
      for (const k of reflect.getOwnMetadataKeys(fn)) {
        reflect.defineMetadata(k, reflect.getOwnMetadata?.(k, fn), wrapped);
      }
    }
    (descriptor as { value?: unknown }).value = wrapped;
    return descriptor;
  };
}

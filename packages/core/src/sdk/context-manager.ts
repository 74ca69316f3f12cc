/**
 * The context manager on `AsyncLocalStorage` (OpenTelemetry specification `context/README.md`;
 * same behaviour as the official `AsyncLocalStorageContextManager`): the active context follows
 * `await`, timers, promises and callbacks; `bind()` ties a function or an `EventEmitter`'s listeners
 * to a context.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { EventEmitter } from 'node:events';
import type { Context, ContextManager } from '@opentelemetry/api';
import { ROOT_CONTEXT } from '../api.js';

type Listener = (...args: unknown[]) => unknown;
type Func = (...args: never[]) => unknown;

const ADD_METHODS = ['addListener', 'on', 'once', 'prependListener', 'prependOnceListener'] as const;
/** Per emitter: event → (original listener → its bound wrapper), so `removeListener` still works. */
const PATCHED = Symbol.for('tracewire.context.bound-listeners');

interface PatchedEmitter extends EventEmitter {
  [PATCHED]?: Map<string | symbol, WeakMap<Listener, Listener>>;
}

/**
 * @example
 * ```ts
 * import { context } from '@opentelemetry/api';
 * context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
 * ```
 */
export class AsyncLocalStorageContextManager implements ContextManager {
  readonly #als = new AsyncLocalStorage<Context>();

  active(): Context {
    return this.#als.getStore() ?? ROOT_CONTEXT;
  }

  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(
    context: Context,
    fn: F,
    thisArg?: ThisParameterType<F>,
    ...args: A
  ): ReturnType<F> {
    const cb = thisArg === undefined || thisArg === null ? fn : (fn.bind(thisArg) as F);
    return this.#als.run(context, cb, ...args);
  }

  bind<T>(context: Context, target: T): T {
    if (typeof target === 'function') return this.#bindFunction(context, target as unknown as Func) as T;
    if (isEventEmitter(target)) return this.#bindEmitter(context, target) as T;
    return target;
  }

  enable(): this {
    return this;
  }

  disable(): this {
    this.#als.disable();
    return this;
  }

  #bindFunction<F extends Func>(context: Context, target: F): F {
    const manager = this;
    const bound = function (this: unknown, ...args: unknown[]) {
      return manager.with(context, () => (target as unknown as Listener).apply(this, args));
    };
    Object.defineProperty(bound, 'length', {
      enumerable: false,
      configurable: true,
      writable: false,
      value: target.length,
    });
    return bound as unknown as F;
  }

  /**
   * Listeners added to `ee` after `bind()` run in `context`. The emitter's own methods are patched
   * on the instance (not the prototype); `removeListener`/`off` accept the original listener.
   */
  #bindEmitter(context: Context, ee: PatchedEmitter): PatchedEmitter {
    if (ee[PATCHED] !== undefined) return ee;
    const map = new Map<string | symbol, WeakMap<Listener, Listener>>();
    Object.defineProperty(ee, PATCHED, { value: map, enumerable: false, configurable: true });
    const manager = this;
    for (const method of ADD_METHODS) {
      const original = ee[method] as (event: string | symbol, listener: Listener) => EventEmitter;
      if (typeof original !== 'function') continue;
      ee[method] = function (this: EventEmitter, event: string | symbol, listener: Listener) {
        if (typeof listener !== 'function') return original.call(this, event, listener);
        let forEvent = map.get(event);
        if (forEvent === undefined) {
          forEvent = new WeakMap();
          map.set(event, forEvent);
        }
        let bound = forEvent.get(listener);
        if (bound === undefined) {
          bound = manager.#bindFunction(context, listener);
          forEvent.set(listener, bound);
        }
        return original.call(this, event, bound);
      } as EventEmitter[typeof method];
    }
    for (const method of ['removeListener', 'off'] as const) {
      const original = ee[method] as (event: string | symbol, listener: Listener) => EventEmitter;
      if (typeof original !== 'function') continue;
      ee[method] = function (this: EventEmitter, event: string | symbol, listener: Listener) {
        const bound = map.get(event)?.get(listener);
        return original.call(this, event, bound ?? listener);
      } as EventEmitter[typeof method];
    }
    const removeAll = ee.removeAllListeners;
    ee.removeAllListeners = function (this: EventEmitter, event?: string | symbol) {
      if (event === undefined) map.clear();
      else map.delete(event);
      return removeAll.apply(this, event === undefined ? [] : [event]);
    } as EventEmitter['removeAllListeners'];
    return ee;
  }
}

function isEventEmitter(v: unknown): v is PatchedEmitter {
  const e = v as EventEmitter | null;
  return (
    typeof e === 'object' &&
    e !== null &&
    typeof e.on === 'function' &&
    typeof e.addListener === 'function' &&
    typeof e.removeListener === 'function' &&
    typeof e.emit === 'function'
  );
}

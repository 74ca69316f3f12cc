import { EventEmitter } from 'node:events';
import { context, createContextKey, ROOT_CONTEXT } from '@opentelemetry/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AsyncLocalStorageContextManager } from './context-manager.js';

const KEY = createContextKey('test key');
const manager = new AsyncLocalStorageContextManager();

beforeAll(() => {
  context.setGlobalContextManager(manager.enable());
});
afterAll(() => {
  context.disable();
});

const valueNow = () => context.active().getValue(KEY);

describe('AsyncLocalStorageContextManager', () => {
  it('is ROOT outside any with(); with() passes this and arguments and returns the result', () => {
    expect(manager.active()).toBe(ROOT_CONTEXT);
    const ctx = ROOT_CONTEXT.setValue(KEY, 'a');
    const self = { tag: 'self' };
    const result = manager.with(
      ctx,
      function (this: typeof self, x: number, y: number) {
        return `${this.tag}:${x + y}:${String(valueNow())}`;
      },
      self,
      1,
      2,
    );
    expect(result).toBe('self:3:a');
    expect(valueNow()).toBeUndefined();
  });

  it('follows await, timers, setImmediate, promises and nesting', async () => {
    const seen = await context.with(ROOT_CONTEXT.setValue(KEY, 'outer'), async () => {
      const out: unknown[] = [];
      await new Promise((r) => setTimeout(r, 5));
      out.push(valueNow());
      await new Promise<void>((r) =>
        setTimeout(() => {
          out.push(valueNow());
          r();
        }, 1),
      );
      await new Promise<void>((r) =>
        setImmediate(() => {
          out.push(valueNow());
          r();
        }),
      );
      await context.with(context.active().setValue(KEY, 'inner'), async () => {
        await Promise.resolve();
        out.push(valueNow());
      });
      out.push(valueNow());
      return out;
    });
    expect(seen).toEqual(['outer', 'outer', 'outer', 'inner', 'outer']);
    expect(valueNow()).toBeUndefined();
  });

  it('keeps concurrent contexts apart', async () => {
    const run = (v: string, delay: number) =>
      context.with(ROOT_CONTEXT.setValue(KEY, v), async () => {
        await new Promise((r) => setTimeout(r, delay));
        return valueNow();
      });
    expect(await Promise.all([run('a', 15), run('b', 1), run('c', 8)])).toEqual(['a', 'b', 'c']);
  });

  it('bind(function) runs it in the bound context wherever it is called, keeping this/arguments/length', () => {
    const fn = manager.bind(
      ROOT_CONTEXT.setValue(KEY, 'bound'),
      function (this: { n: number }, a: number, _b: number) {
        return [valueNow(), this?.n, a];
      },
    );
    expect(fn.length).toBe(2);
    const other = ROOT_CONTEXT.setValue(KEY, 'other');
    expect(context.with(other, () => fn.call({ n: 7 }, 5, 0))).toEqual(['bound', 7, 5]);
    expect(manager.bind(ROOT_CONTEXT, 42)).toBe(42);
  });

  it('bind(EventEmitter) runs listeners in the bound context; removeListener and once still work', () => {
    const ee = new EventEmitter();
    manager.bind(ROOT_CONTEXT.setValue(KEY, 'emitter'), ee);
    const seen: unknown[] = [];
    const listener = () => seen.push(valueNow());
    ee.on('x', listener);
    ee.once('y', listener);
    context.with(ROOT_CONTEXT.setValue(KEY, 'caller'), () => {
      ee.emit('x');
      ee.emit('y');
      ee.emit('y');
    });
    expect(seen).toEqual(['emitter', 'emitter']);
    ee.removeListener('x', listener);
    expect(ee.listenerCount('x')).toBe(0);
    ee.on('z', listener);
    ee.off('z', listener);
    expect(ee.listenerCount('z')).toBe(0);
    ee.on('w', listener);
    ee.removeAllListeners();
    expect(ee.listenerCount('w')).toBe(0);
  });

  it('disable() forgets the active context', () => {
    const m = new AsyncLocalStorageContextManager();
    m.with(ROOT_CONTEXT.setValue(KEY, 'v'), () => {
      expect(m.active().getValue(KEY)).toBe('v');
      m.disable();
      expect(m.active()).toBe(ROOT_CONTEXT);
    });
  });
});

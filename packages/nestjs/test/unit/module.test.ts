import { TracewireModule } from '../../src/index.js';
import { expect, it } from 'vitest';

it('forRoot rejects bad options with a TypeError naming the option', () => {
  expect(() => TracewireModule.forRoot({ ignore: 1 as never })).toThrow(/"ignore"/);
  expect(() => TracewireModule.forRoot({ requestHook: 'x' as never })).toThrow(TypeError);
  expect(() => TracewireModule.forRoot({ captureHeaders: { request: ['bad header'] } })).toThrow(
    /captureHeaders\.request/,
  );
  expect(() => TracewireModule.forRoot([] as never)).toThrow(/must be an object/);
});

it('forRootAsync needs a factory and an array for inject', () => {
  expect(() => TracewireModule.forRootAsync({} as never)).toThrow(/useFactory/);
  expect(() => TracewireModule.forRootAsync({ useFactory: () => ({}), inject: 'x' as never })).toThrow(
    /"inject"/,
  );
});

it('forRoot returns a global dynamic module with a guard and an exception filter, no interceptor', () => {
  const m = TracewireModule.forRoot();
  expect(m.module).toBe(TracewireModule);
  expect(m.global).toBe(true);
  const provides = (m.providers as Array<{ provide: unknown }>).map((p) => p.provide);
  expect(provides).toContain('APP_GUARD');
  expect(provides).toContain('APP_FILTER');
  expect(provides).not.toContain('APP_INTERCEPTOR');
});

it('recordExceptions: false leaves out the exception filter; a non-boolean is a TypeError', () => {
  const provides = (m: { providers?: unknown[] }) =>
    (m.providers as Array<{ provide: unknown }>).map((p) => p.provide);
  expect(provides(TracewireModule.forRoot({ recordExceptions: false }))).toContain('APP_GUARD');
  expect(provides(TracewireModule.forRoot({ recordExceptions: false }))).not.toContain('APP_FILTER');
  expect(
    provides(TracewireModule.forRootAsync({ useFactory: () => ({}), recordExceptions: false })),
  ).not.toContain('APP_FILTER');
  expect(provides(TracewireModule.forRootAsync({ useFactory: () => ({}) }))).toContain('APP_FILTER');
  expect(() => TracewireModule.forRoot({ recordExceptions: 'no' as never })).toThrow(/"recordExceptions"/);
  expect(() =>
    TracewireModule.forRootAsync({ useFactory: () => ({}), recordExceptions: 1 as never }),
  ).toThrow(/"recordExceptions"/);
});

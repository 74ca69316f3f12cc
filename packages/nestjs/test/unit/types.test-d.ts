/** Type tests of the public API (checked by `tsc --noEmit -p tsconfig.json` and vitest's typecheck). */
import type { DynamicModule } from '@nestjs/common';
import type { HttpServerTracingOptions } from '@tracewire/core';
import type { Observable } from 'rxjs';
import { describe, expectTypeOf, it } from 'vitest';
import {
  Traced,
  TracewireModule,
  type TracewireModuleAsyncOptions,
  type TracewireNestOptions,
} from '../../src/index.js';

class ConfigService {
  get(key: string): string {
    return key;
  }
}

describe('@tracewire/nestjs types', () => {
  it('forRoot and forRootAsync return Nest dynamic modules', () => {
    expectTypeOf(TracewireModule.forRoot()).toEqualTypeOf<DynamicModule>();
    expectTypeOf(TracewireModule.forRoot({ ignore: ['/health'] })).toEqualTypeOf<DynamicModule>();
    expectTypeOf(
      TracewireModule.forRootAsync({
        inject: [ConfigService],
        useFactory: (config: ConfigService) => ({ ignore: [config.get('HEALTH')] }),
      }),
    ).toEqualTypeOf<DynamicModule>();
    expectTypeOf(
      TracewireModule.forRootAsync({ useFactory: async () => ({ captureHeaders: { request: ['x-id'] } }) }),
    ).toEqualTypeOf<DynamicModule>();
    expectTypeOf(
      TracewireModule.forRootAsync({ useFactory: () => ({}), recordExceptions: false }),
    ).toEqualTypeOf<DynamicModule>();
    expectTypeOf<TracewireNestOptions['recordExceptions']>().toEqualTypeOf<boolean | undefined>();
    // @ts-expect-error: ignore takes strings, RegExps or predicates
    TracewireModule.forRoot({ ignore: 42 });
    // @ts-expect-error: the factory must return options
    TracewireModule.forRootAsync({ useFactory: () => 42 });
  });

  it('options are the core lifecycle options', () => {
    expectTypeOf<TracewireNestOptions>().toExtend<HttpServerTracingOptions>();
    expectTypeOf<HttpServerTracingOptions>().toExtend<TracewireNestOptions>();
    expectTypeOf<() => Promise<TracewireNestOptions>>().toExtend<TracewireModuleAsyncOptions['useFactory']>();
    expectTypeOf<(c: ConfigService) => TracewireNestOptions>().toExtend<
      TracewireModuleAsyncOptions['useFactory']
    >();
    expectTypeOf<() => string>().not.toExtend<TracewireModuleAsyncOptions['useFactory']>();
  });

  it('@Traced() is a method decorator that keeps method types', () => {
    expectTypeOf(Traced()).toEqualTypeOf<MethodDecorator>();
    expectTypeOf(Traced('name')).toEqualTypeOf<MethodDecorator>();
    class Service {
      @Traced()
      async find(id: string): Promise<{ id: string }> {
        return { id };
      }
      @Traced('stream')
      list(): Observable<number> {
        throw new Error('not called');
      }
    }
    expectTypeOf(new Service().find).toEqualTypeOf<(id: string) => Promise<{ id: string }>>();
    // @ts-expect-error: a name must be a string
    Traced(42);
  });
});

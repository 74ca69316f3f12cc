import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import { trace } from '@opentelemetry/api';
import { lastValueFrom, Observable, of, throwError } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Traced, VERSION } from '../../src/index.js';
import { INTERNAL, STATUS_ERROR, STATUS_UNSET, setupTracing, type Tracing } from '../tracing.js';

let tracing: Tracing;
beforeAll(async () => {
  tracing = await setupTracing();
});
afterAll(async () => {
  await tracing.shutdown();
});

class InvoiceError extends Error {}

class Billing {
  calls = 0;

  @Traced()
  total(a: number, b: number) {
    this.calls++;
    return a + b;
  }

  @Traced('billing.charge')
  async charge(amount: number) {
    await new Promise((r) => setTimeout(r, 15));
    trace.getTracer('t').startSpan('gateway call').end();
    if (amount < 0) throw new InvoiceError('negative amount');
    return `charged ${amount}`;
  }

  @Traced()
  explode(): never {
    throw new InvoiceError('sync failure');
  }

  @Traced()
  prices(): Observable<number> {
    return new Observable<number>((s) => {
      trace.getTracer('t').startSpan('price lookup').end();
      const timer = setTimeout(() => {
        s.next(1);
        s.next(2);
        s.complete();
      }, 15);
      return () => clearTimeout(timer);
    });
  }

  @Traced()
  failing(): Observable<number> {
    return throwError(() => new InvoiceError('stream failure'));
  }

  @Traced()
  endless(): Observable<number> {
    return new Observable<number>(() => {});
  }
}

async function spansNamed(name: string, count = 1) {
  const all = await tracing.receiver.waitFor((s) => s.filter((x) => x.name === name).length >= count);
  return all.filter((x) => x.name === name);
}

describe('@Traced()', () => {
  it('wraps a sync method: value and `this` unchanged, one INTERNAL span named Class.method', async () => {
    const b = new Billing();
    expect(b.total(2, 3)).toBe(5);
    expect(b.calls).toBe(1);
    const [span] = await spansNamed('Billing.total');
    expect(span!.kind).toBe(INTERNAL);
    expect(span!.status.code).toBe(STATUS_UNSET);
    expect(span!.scope).toEqual({ name: '@tracewire/nestjs', version: VERSION, attributes: {} });
  });

  it('spans an async method until its promise settles, as the parent of work inside it', async () => {
    const b = new Billing();
    const parent = trace.getTracer('t').startSpan('request');
    const result = await trace.getTracer('t').startActiveSpan('request-active', async (active) => {
      const r = await b.charge(10);
      active.end();
      return r;
    });
    parent.end();
    expect(result).toBe('charged 10');
    const [span] = await spansNamed('billing.charge');
    const [active] = await spansNamed('request-active');
    const [inner] = await spansNamed('gateway call');
    expect(span!.parentSpanId).toBe(active!.spanId);
    expect(inner!.parentSpanId).toBe(span!.spanId);
    expect(Number(span!.endTimeUnixNano - span!.startTimeUnixNano) / 1e6).toBeGreaterThanOrEqual(14);
  });

  it('records a rejection (event, ERROR, error.type) and rethrows the same error', async () => {
    const b = new Billing();
    tracing.receiver.reset();
    const err = await b.charge(-1).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvoiceError);
    const [span] = await spansNamed('billing.charge');
    expect(span!.status).toEqual({ code: STATUS_ERROR, message: 'negative amount' });
    expect(span!.attributes['error.type']).toBe('InvoiceError');
    expect(span!.events.map((e) => [e.name, e.attributes['exception.message']])).toEqual([
      ['exception', 'negative amount'],
    ]);
  });

  it('records a synchronous throw and rethrows it', async () => {
    const b = new Billing();
    expect(() => b.explode()).toThrow(InvoiceError);
    const [span] = await spansNamed('Billing.explode');
    expect(span!.status.code).toBe(STATUS_ERROR);
    expect(span!.attributes['error.type']).toBe('InvoiceError');
  });

  it('spans an Observable from subscription to completion; values unchanged; one span per subscription', async () => {
    const b = new Billing();
    tracing.receiver.reset();
    const values: number[] = [];
    const obs = b.prices();
    await new Promise<void>((resolve) => obs.subscribe({ next: (v) => values.push(v), complete: resolve }));
    expect(values).toEqual([1, 2]);
    const [span] = await spansNamed('Billing.prices');
    expect(Number(span!.endTimeUnixNano - span!.startTimeUnixNano) / 1e6).toBeGreaterThanOrEqual(14);
    const [lookup] = await spansNamed('price lookup');
    expect(lookup!.parentSpanId).toBe(span!.spanId);
    // A second subscription (a retry) is traced on its own.
    expect(await lastValueFrom(obs)).toBe(2);
    expect(await spansNamed('Billing.prices', 2)).toHaveLength(2);
  });

  it('records an Observable error and ends the span on unsubscribe', async () => {
    const b = new Billing();
    const err = await lastValueFrom(b.failing()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvoiceError);
    const [span] = await spansNamed('Billing.failing');
    expect(span!.status.code).toBe(STATUS_ERROR);
    expect(span!.events[0]!.attributes['exception.message']).toBe('stream failure');

    const sub = b.endless().subscribe();
    sub.unsubscribe();
    const [endless] = await spansNamed('Billing.endless');
    expect(endless!.status.code).toBe(STATUS_UNSET);
  });

  it('keeps metadata other decorators put on the method (Nest route metadata)', () => {
    const Route =
      (path: string): MethodDecorator =>
      (_t, _k, d) => {
        Reflect.defineMetadata('path', path, d.value as object);
      };
    class C {
      @Traced()
      @Route(':id')
      find() {
        return of(1);
      }
    }
    const method = C.prototype.find;
    expect(Reflect.getMetadata('path', method)).toBe(':id');
    expect(method.name).toBe('find');
  });

  it('rejects misuse with a TypeError', () => {
    expect(() => Traced('')).toThrow(TypeError);
    const decorate = Traced();
    expect(() => decorate({}, 'x', { value: 42 })).toThrow(/not a method/);
  });
});

it('keeps VERSION equal to package.json', () => {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  expect(VERSION).toBe(pkg.version);
});

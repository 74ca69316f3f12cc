/** CompositePropagator and the OTEL_PROPAGATORS names. */
import {
  type Context,
  DiagLogLevel,
  defaultTextMapGetter,
  defaultTextMapSetter,
  diag,
  propagation,
  ROOT_CONTEXT,
  type TextMapPropagator,
  trace,
} from '@opentelemetry/api';
import { afterEach, describe, expect, it } from 'vitest';
import { resetReports } from '../sdk/report.js';
import { B3Propagator } from './b3.js';
import { W3CBaggagePropagator } from './baggage.js';
import { CompositePropagator, propagatorFromNames } from './composite.js';
import { W3CTraceContextPropagator } from './trace-context.js';

const TID = '4bf92f3577b34da6a3ce929d0e0e4736';
const SID = '00f067aa0ba902b7';

function captureDiag(): string[] {
  const lines: string[] = [];
  const log = (m: string) => lines.push(m);
  diag.setLogger({ error: log, warn: log, info: log, debug: log, verbose: log }, DiagLogLevel.WARN);
  return lines;
}

afterEach(() => {
  diag.disable();
  resetReports();
});

const exploding: TextMapPropagator = {
  inject() {
    throw new Error('inject boom');
  },
  extract() {
    throw new Error('extract boom');
  },
  fields: () => ['x-boom', 'traceparent'],
};

describe('CompositePropagator', () => {
  const w3c = new W3CTraceContextPropagator();
  const baggage = new W3CBaggagePropagator();

  it('extracts with every member in order and injects with every member', () => {
    const composite = new CompositePropagator({ propagators: [w3c, baggage] });
    const ctx = composite.extract(
      ROOT_CONTEXT,
      { traceparent: `00-${TID}-${SID}-01`, baggage: 'a=1' },
      defaultTextMapGetter,
    );
    expect(trace.getSpanContext(ctx)?.traceId).toBe(TID);
    expect(propagation.getBaggage(ctx)?.getEntry('a')?.value).toBe('1');
    const out: Record<string, string> = {};
    composite.inject(ctx, out, defaultTextMapSetter);
    expect(out).toEqual({ traceparent: `00-${TID}-${SID}-01`, baggage: 'a=1' });
  });

  it('a later extractor wins for the span context (W3C then B3)', () => {
    const composite = new CompositePropagator({ propagators: [w3c, new B3Propagator()] });
    const other = 'a'.repeat(32);
    const ctx = composite.extract(
      ROOT_CONTEXT,
      { traceparent: `00-${TID}-${SID}-01`, b3: `${other}-${SID}-1` },
      defaultTextMapGetter,
    );
    expect(trace.getSpanContext(ctx)?.traceId).toBe(other);
  });

  it('fields() is the union without duplicates', () => {
    const composite = new CompositePropagator({
      propagators: [w3c, baggage, new B3Propagator({ injectEncoding: 'multi' }), exploding],
    });
    expect(composite.fields()).toEqual([
      'traceparent',
      'tracestate',
      'baggage',
      'x-b3-traceid',
      'x-b3-spanid',
      'x-b3-sampled',
      'x-b3-flags',
      'x-b3-parentspanid',
      'x-boom',
    ]);
  });

  it('never throws: a throwing member is reported through diag and skipped', () => {
    const lines = captureDiag();
    const composite = new CompositePropagator({ propagators: [exploding, w3c, exploding] });
    let ctx: Context = ROOT_CONTEXT;
    expect(() => {
      ctx = composite.extract(ROOT_CONTEXT, { traceparent: `00-${TID}-${SID}-01` }, defaultTextMapGetter);
    }).not.toThrow();
    expect(trace.getSpanContext(ctx)?.traceId).toBe(TID);
    const out: Record<string, string> = {};
    expect(() => composite.inject(ctx, out, defaultTextMapSetter)).not.toThrow();
    expect(out.traceparent).toBe(`00-${TID}-${SID}-01`);
    expect(lines.some((l) => l.includes('extract boom'))).toBe(true);
    expect(lines.some((l) => l.includes('inject boom'))).toBe(true);
  });

  it('with no propagators does nothing', () => {
    const composite = new CompositePropagator();
    expect(
      composite.extract(ROOT_CONTEXT, { traceparent: `00-${TID}-${SID}-01` }, defaultTextMapGetter),
    ).toBe(ROOT_CONTEXT);
    expect(composite.fields()).toEqual([]);
  });

  it('rejects bad options with a TypeError naming the option', () => {
    expect(() => new CompositePropagator({ propagators: 'w3c' as unknown as TextMapPropagator[] })).toThrow(
      /options\.propagators must be an array/,
    );
    expect(() => new CompositePropagator({ propagators: [w3c, {} as TextMapPropagator] })).toThrow(
      /options\.propagators\[1\] must be a TextMapPropagator/,
    );
  });
});

describe('propagatorFromNames (OTEL_PROPAGATORS)', () => {
  const carrier = {
    traceparent: `00-${TID}-${SID}-01`,
    baggage: 'a=1',
  };
  const ctx = new CompositePropagator({
    propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()],
  }).extract(ROOT_CONTEXT, carrier, defaultTextMapGetter);

  function injected(names: string[]): Record<string, string> {
    const out: Record<string, string> = {};
    propagatorFromNames(names).inject(ctx, out, defaultTextMapSetter);
    return out;
  }

  it('maps tracecontext, baggage, b3, b3multi', () => {
    expect(injected(['tracecontext', 'baggage'])).toEqual(carrier);
    expect(injected([' TraceContext ', 'BAGGAGE', ''])).toEqual(carrier);
    expect(injected(['b3'])).toEqual({ b3: `${TID}-${SID}-1` });
    expect(injected(['b3multi'])).toEqual({ 'x-b3-traceid': TID, 'x-b3-spanid': SID, 'x-b3-sampled': '1' });
  });

  it('none disables propagation; unknown names are warned about and ignored', () => {
    expect(injected(['tracecontext', 'none'])).toEqual({});
    const lines = captureDiag();
    expect(injected(['xray', 'tracecontext', 'tracecontext'])).toEqual({ traceparent: carrier.traceparent });
    expect(lines.some((l) => l.includes('unknown propagator "xray"'))).toBe(true);
  });
});

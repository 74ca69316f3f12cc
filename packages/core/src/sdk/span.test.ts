import {
  context,
  createTraceState,
  ROOT_CONTEXT,
  type Span as ApiSpan,
  SpanKind,
  SpanStatusCode,
  TraceFlags,
  trace,
} from '@opentelemetry/api';
import { afterEach, describe, expect, it } from 'vitest';
import { AlwaysOffSampler, SamplingDecision } from './samplers.js';
import { NonRecordingSpan, type Span } from './span.js';
import { captureDiag, setup } from './test-support.js';
import type { ReadableSpan } from './types.js';

afterEach(() => {
  captureDiag();
});

const readable = (s: ApiSpan) => s as unknown as Span & ReadableSpan;

describe('span attributes', () => {
  it('keeps valid values, drops invalid ones and null/undefined, copies arrays', () => {
    const { tracer, processor } = setup();
    const diagLog = captureDiag();
    const arr = ['a', 'b'];
    const span = tracer.startSpan('s', { attributes: { 'at.start': 1, bad: {} as unknown as string } });
    span.setAttribute('str', 'v');
    span.setAttribute('num', 1.5);
    span.setAttribute('bool', false);
    span.setAttribute('arr', arr);
    span.setAttribute('arr.nulls', [1, null, 3] as number[]);
    span.setAttribute('mixed', [1, 'a'] as unknown as string[]);
    span.setAttribute('obj', { a: 1 } as unknown as string);
    span.setAttribute('nothing', undefined as never);
    span.setAttribute('', 'empty key');
    span.setAttributes({ a: 'x', b: 2 });
    arr.push('c');
    span.end();
    const s = processor.ended[0] as ReadableSpan;
    expect({ ...s.attributes }).toEqual({
      'at.start': 1,
      str: 'v',
      num: 1.5,
      bool: false,
      arr: ['a', 'b'],
      'arr.nulls': [1, null, 3],
      a: 'x',
      b: 2,
    });
    // Reported once per cause per interval (rate-limited): the first invalid value names its key.
    expect(diagLog.text()).toMatch(/attribute "bad" was dropped/);
  });

  it('stores keys that collide with Object.prototype as ordinary attributes', () => {
    const { tracer } = setup();
    const span = readable(tracer.startSpan('s'));
    span.setAttribute('toString', 'x');
    span.setAttribute('__proto__', 'y');
    span.setAttribute('constructor', 'z');
    expect(Object.keys(span.attributes).sort()).toEqual(['__proto__', 'constructor', 'toString']);
    expect(span.attributes.toString).toBe('x');
    expect(Object.entries(JSON.parse(JSON.stringify(span.attributes))).sort()).toEqual([
      ['__proto__', 'y'],
      ['constructor', 'z'],
      ['toString', 'x'],
    ]);
  });

  it('copies the attributes given at start (fast path and slow path alike)', () => {
    const { tracer } = setup({ spanLimits: { attributeCountLimit: 3, attributeValueLengthLimit: 5 } });
    const simple: Record<string, string | number> = { a: 'x', b: 1 };
    const s1 = readable(tracer.startSpan('s', { attributes: simple }));
    simple.a = 'changed';
    simple.c = 3;
    expect({ ...s1.attributes }).toEqual({ a: 'x', b: 1 });
    s1.setAttributes({ c: 3, d: 4 });
    expect(Object.keys(s1.attributes)).toEqual(['a', 'b', 'c']);
    expect(s1.droppedAttributesCount).toBe(1);
    const s2 = readable(tracer.startSpan('s', { attributes: { long: 'abcdefgh', a: 1, b: 2, c: 3, '': 4 } }));
    expect({ ...s2.attributes }).toEqual({ long: 'abcde', a: 1, b: 2 });
    expect(s2.droppedAttributesCount).toBe(1);
  });

  it('enforces the attribute count limit, counting dropped ones, overwrites not counted', () => {
    const { tracer } = setup({ spanLimits: { attributeCountLimit: 3 } });
    const span = readable(tracer.startSpan('s', { attributes: { a: 1, b: 2 } }));
    span.setAttribute('a', 10); // overwrite: does not count
    span.setAttribute('c', 3);
    span.setAttribute('d', 4);
    span.setAttribute('e', 5);
    span.setAttribute('b', 20); // overwrite of a kept key is still allowed at the limit
    expect({ ...span.attributes }).toEqual({ a: 10, b: 20, c: 3 });
    expect(span.droppedAttributesCount).toBe(2);
  });

  it('applies the limits to http.route and http.response.status_code too (stored by name)', () => {
    const { tracer } = setup({ spanLimits: { attributeCountLimit: 2, attributeValueLengthLimit: 4 } });
    const span = readable(tracer.startSpan('s', { attributes: { a: 1 } }));
    span.setAttribute('http.route', '/users/:id');
    span.setAttribute('http.response.status_code', 200); // over the count limit: dropped
    span.setAttribute('http.route', '/b'); // overwrite at the limit: allowed
    expect({ ...span.attributes }).toEqual({ a: 1, 'http.route': '/b' });
    expect(span.droppedAttributesCount).toBe(1);
    const other = readable(tracer.startSpan('s'));
    other.setAttribute('http.response.status_code', 503);
    other.setAttribute('http.route', '/users/:id');
    expect({ ...other.attributes }).toEqual({ 'http.response.status_code': 503, 'http.route': '/use' });
    other.end();
    other.setAttribute('http.route', '/late'); // after end: ignored
    expect(other.attributes['http.route']).toBe('/use');
  });

  it('truncates strings (and strings in arrays) to the value length limit', () => {
    const { tracer } = setup({ spanLimits: { attributeValueLengthLimit: 4 } });
    const span = readable(tracer.startSpan('s'));
    span.setAttribute('s', 'abcdefgh');
    span.setAttribute('arr', ['abcdefgh', 'ab']);
    span.setAttribute('n', 123456789);
    span.addEvent('e', { long: 'abcdefgh' });
    expect(span.attributes).toMatchObject({ s: 'abcd', arr: ['abcd', 'ab'], n: 123456789 });
    expect(span.events[0]?.attributes).toMatchObject({ long: 'abcd' });
  });

  it('reads limits from OTEL_* variables, code winning', () => {
    const env = {
      OTEL_ATTRIBUTE_COUNT_LIMIT: '2',
      OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT: '3',
      OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT: '5',
      OTEL_SPAN_EVENT_COUNT_LIMIT: '1',
    };
    const a = readable(setup({ env }).tracer.startSpan('s'));
    a.setAttributes({ x: 'abcdefgh', y: 'y', z: 'z' });
    a.addEvent('e1');
    a.addEvent('e2');
    expect({ ...a.attributes }).toEqual({ x: 'abcde', y: 'y' });
    expect(a.droppedAttributesCount).toBe(1);
    expect(a.events.map((e) => e.name)).toEqual(['e2']);
    expect(a.droppedEventsCount).toBe(1);

    const b = readable(setup({ env, spanLimits: { attributeCountLimit: 10 } }).tracer.startSpan('s'));
    b.setAttributes({ x: 'abcdefgh', y: 'y', z: 'z' });
    expect(Object.keys(b.attributes)).toHaveLength(3);
  });

  it('warns about a bad limit variable and uses the default', () => {
    const log = captureDiag();
    const span = readable(setup({ env: { OTEL_ATTRIBUTE_COUNT_LIMIT: 'lots' } }).tracer.startSpan('s'));
    for (let i = 0; i < 130; i++) span.setAttribute(`k${i}`, i);
    expect(Object.keys(span.attributes)).toHaveLength(128);
    expect(log.text()).toMatch(/OTEL_ATTRIBUTE_COUNT_LIMIT="lots"/);
  });

  it('rejects invalid span limits in code with a TypeError naming the limit', () => {
    expect(() => setup({ spanLimits: { attributeCountLimit: -1 } })).toThrow(
      /spanLimits\.attributeCountLimit/,
    );
    expect(() => setup({ spanLimits: { eventCountLimit: 1.5 } })).toThrow(TypeError);
    expect(() => setup({ spanLimits: { nope: 1 } as never })).toThrow(/spanLimits\.nope/);
  });
});

describe('span status', () => {
  it('ERROR keeps its message; OK is final; UNSET is ignored; OK drops a message', () => {
    const { tracer } = setup();
    const a = readable(tracer.startSpan('a'));
    a.setStatus({ code: SpanStatusCode.ERROR, message: 'boom' });
    a.setStatus({ code: SpanStatusCode.UNSET });
    expect(a.status).toEqual({ code: SpanStatusCode.ERROR, message: 'boom' });
    a.setStatus({ code: SpanStatusCode.ERROR });
    expect(a.status).toEqual({ code: SpanStatusCode.ERROR, message: 'boom' });
    a.setStatus({ code: SpanStatusCode.OK, message: 'ignored' });
    expect(a.status).toEqual({ code: SpanStatusCode.OK });
    a.setStatus({ code: SpanStatusCode.ERROR, message: 'late' });
    expect(a.status).toEqual({ code: SpanStatusCode.OK });
  });
});

describe('span events, links and exceptions', () => {
  it('adds events with attributes and explicit times (HrTime, epoch ms, Date)', () => {
    const { tracer } = setup();
    const span = readable(tracer.startSpan('s'));
    span.addEvent('plain');
    span.addEvent('with attrs', { k: 'v' });
    span.addEvent('hr', [1_700_000_000, 5]);
    span.addEvent('ms', { a: 1 }, 1_700_000_000_123);
    span.addEvent('date', new Date(1_700_000_000_456));
    expect(span.events.map((e) => e.name)).toEqual(['plain', 'with attrs', 'hr', 'ms', 'date']);
    expect(span.events[1]?.attributes).toEqual({ k: 'v' });
    expect(span.events[2]?.time).toEqual([1_700_000_000, 5]);
    expect(span.events[3]?.time).toEqual([1_700_000_000, 123_000_000]);
    expect(span.events[4]?.time).toEqual([1_700_000_000, 456_000_000]);
    const now = Date.now() / 1000;
    expect(Math.abs((span.events[0]?.time[0] ?? 0) - now)).toBeLessThan(2);
  });

  it('limits event attributes per event and counts the dropped ones', () => {
    const { tracer } = setup({ spanLimits: { attributePerEventCountLimit: 1 } });
    const span = readable(tracer.startSpan('s'));
    span.addEvent('e', { a: 1, b: 2, c: 3 });
    expect(span.events[0]?.attributes).toEqual({ a: 1 });
    expect(span.events[0]?.droppedAttributesCount).toBe(2);
  });

  it('adds links at start and later (addLink, addLinks), with limits', () => {
    const { tracer } = setup({ spanLimits: { linkCountLimit: 2, attributePerLinkCountLimit: 1 } });
    const other = tracer.startSpan('other').spanContext();
    const span = readable(tracer.startSpan('s', { links: [{ context: other, attributes: { a: 1, b: 2 } }] }));
    span.addLink({ context: other });
    span.addLinks([{ context: other }, { context: other }]);
    expect(span.links).toHaveLength(2);
    expect(span.links[0]?.context.spanId).toBe(other.spanId);
    expect(span.links[0]?.attributes).toEqual({ a: 1 });
    expect(span.links[0]?.droppedAttributesCount).toBe(1);
    expect(span.droppedLinksCount).toBe(2);
  });

  it('records Error, string, non-Error objects and primitives as exception events', () => {
    const { tracer } = setup();
    const span = readable(tracer.startSpan('s'));
    class PaymentError extends Error {
      override name = 'PaymentError';
    }
    span.recordException(new PaymentError('card declined'));
    span.recordException('plain text');
    span.recordException({ message: 'no stack', code: 'ECONNRESET' } as never);
    span.recordException(42 as never);
    const [e1, e2, e3, e4] = span.events;
    expect(e1?.name).toBe('exception');
    expect(e1?.attributes?.['exception.type']).toBe('PaymentError');
    expect(e1?.attributes?.['exception.message']).toBe('card declined');
    expect(String(e1?.attributes?.['exception.stacktrace'])).toMatch(/PaymentError: card declined\n\s+at /);
    expect(e2?.attributes).toEqual({ 'exception.message': 'plain text' });
    expect(e3?.attributes).toEqual({ 'exception.type': 'ECONNRESET', 'exception.message': 'no stack' });
    expect(e4?.attributes).toEqual({ 'exception.message': '42' });
    // Recording an exception does not change the status (the caller decides).
    expect(span.status.code).toBe(SpanStatusCode.UNSET);
  });

  it('uses the class name as exception.type for an Error subclass that does not set name', () => {
    const { tracer } = setup();
    const span = readable(tracer.startSpan('s'));
    class InventoryError extends Error {}
    span.recordException(new InventoryError('out of stock'));
    span.recordException(new Error('plain'));
    expect(span.events[0]?.attributes?.['exception.type']).toBe('InventoryError');
    expect(span.events[1]?.attributes?.['exception.type']).toBe('Error');
  });
});

describe('span lifecycle', () => {
  it('ends once: the second end() is ignored and reported through diag', () => {
    const { tracer, processor } = setup();
    const log = captureDiag();
    const span = readable(tracer.startSpan('once'));
    expect(span.isRecording()).toBe(true);
    span.end();
    const end = span.endTime;
    span.end();
    span.setAttribute('late', 1);
    span.updateName('renamed');
    expect(processor.ended).toHaveLength(1);
    expect(span.isRecording()).toBe(false);
    expect(span.ended).toBe(true);
    expect(span.endTime).toEqual(end);
    expect(span.attributes.late).toBeUndefined();
    expect(span.name).toBe('once');
    expect(log.text()).toMatch(/end\(\) was called twice on span "once"/);
    expect(log.text()).toMatch(/setAttribute\(\) on an ended span/);
  });

  it('updateName before end changes the exported name', () => {
    const { tracer, processor } = setup();
    const span = tracer.startSpan('GET');
    span.updateName('GET /users/:id');
    span.end();
    expect(processor.ended[0]?.name).toBe('GET /users/:id');
  });

  it('has epoch start/end times, a matching duration, and honours explicit times', async () => {
    const { tracer } = setup();
    const before = Date.now();
    const span = readable(tracer.startSpan('t'));
    await new Promise((r) => setTimeout(r, 20));
    span.end();
    const after = Date.now();
    const startMs = span.startTime[0] * 1000 + span.startTime[1] / 1e6;
    const endMs = span.endTime[0] * 1000 + span.endTime[1] / 1e6;
    expect(startMs).toBeGreaterThanOrEqual(before - 5);
    expect(endMs).toBeLessThanOrEqual(after + 5);
    const durMs = span.duration[0] * 1000 + span.duration[1] / 1e6;
    expect(durMs).toBeGreaterThanOrEqual(15);
    expect(Math.abs(durMs - (endMs - startMs))).toBeLessThan(0.01);

    const explicit = readable(tracer.startSpan('e', { startTime: new Date(1_700_000_000_000) }));
    explicit.end([1_700_000_001, 500]);
    expect(explicit.startTime).toEqual([1_700_000_000, 0]);
    expect(explicit.endTime).toEqual([1_700_000_001, 500]);
    expect(explicit.duration).toEqual([1, 500]);

    const backwards = readable(tracer.startSpan('b', { startTime: 1_700_000_000_000 }));
    backwards.end(1_600_000_000_000);
    expect(backwards.duration).toEqual([0, 0]);
  });

  it('exposes the ReadableSpan fields and the SDK 1.x getters', () => {
    const { tracer, provider } = setup();
    const parent = tracer.startSpan('parent');
    const child = readable(
      tracer.startSpan('child', { kind: SpanKind.CLIENT }, trace.setSpan(ROOT_CONTEXT, parent)),
    );
    expect(child.kind).toBe(SpanKind.CLIENT);
    expect(child.parentSpanContext?.spanId).toBe(parent.spanContext().spanId);
    expect(child.parentSpanId).toBe(parent.spanContext().spanId);
    expect(child.instrumentationScope).toEqual({ name: 'test', version: '1.0.0' });
    expect(child.instrumentationLibrary).toBe(child.instrumentationScope);
    expect(child.resource).toBe(provider.resource);
    expect(child.spanContext().traceId).toBe(parent.spanContext().traceId);
    expect(child.events).toEqual([]);
    expect(child.links).toEqual([]);
    expect(child.endTime).toEqual([0, 0]);
    expect(child.ended).toBe(false);
  });

  it('a processor that throws does not reach the caller', () => {
    const log = captureDiag();
    const { tracer } = setup({
      spanProcessors: [
        {
          onStart() {
            throw new Error('start boom');
          },
          onEnd() {
            throw new Error('end boom');
          },
          forceFlush: () => Promise.resolve(),
          shutdown: () => Promise.resolve(),
        },
      ],
    });
    expect(() => tracer.startSpan('s').end()).not.toThrow();
    expect(log.text()).toMatch(/onStart threw and was ignored: start boom/);
    expect(log.text()).toMatch(/onEnd threw and was ignored: end boom/);
  });
});

describe('tracer: ids, parents, flags, sampling', () => {
  it('starts a new trace with random ids and the W3C random flag, children inherit trace id and flags', () => {
    const { tracer } = setup();
    const root = tracer.startSpan('root');
    const sc = root.spanContext();
    expect(sc.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(sc.spanId).toMatch(/^[0-9a-f]{16}$/);
    expect(sc.traceFlags).toBe(TraceFlags.SAMPLED | 0x02);
    const child = tracer.startSpan('child', {}, trace.setSpan(context.active(), root));
    expect(child.spanContext().traceId).toBe(sc.traceId);
    expect(child.spanContext().spanId).not.toBe(sc.spanId);
    expect(child.spanContext().traceFlags).toBe(sc.traceFlags);
    const ids = new Set<string>();
    for (let i = 0; i < 5000; i++) ids.add(tracer.startSpan('x').spanContext().spanId);
    expect(ids.size).toBe(5000);
  });

  it('keeps a remote parent trace state and its random flag exactly as received', () => {
    const { tracer } = setup();
    const remote = {
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      spanId: '00f067aa0ba902b7',
      traceFlags: 0x01,
      isRemote: true,
      traceState: createTraceState('vendor=value'),
    };
    const span = readable(tracer.startSpan('s', {}, trace.setSpanContext(ROOT_CONTEXT, remote)));
    expect(span.spanContext().traceFlags).toBe(0x01); // no random bit: the parent did not set it
    expect(span.spanContext().traceState?.serialize()).toBe('vendor=value');
    expect(span.parentSpanContext?.isRemote).toBe(true);
    const withRandom = tracer.startSpan(
      's',
      {},
      trace.setSpanContext(ROOT_CONTEXT, { ...remote, traceFlags: 0x03 }),
    );
    expect(withRandom.spanContext().traceFlags).toBe(0x03);
  });

  it('ignores an invalid parent and starts a new trace; root: true ignores the parent', () => {
    const { tracer } = setup();
    const invalid = { traceId: '0'.repeat(32), spanId: '0'.repeat(16), traceFlags: 1 };
    const a = readable(tracer.startSpan('a', {}, trace.setSpanContext(ROOT_CONTEXT, invalid)));
    expect(a.parentSpanContext).toBeUndefined();
    expect(a.spanContext().traceId).not.toBe(invalid.traceId);
    const parent = tracer.startSpan('p');
    const b = readable(tracer.startSpan('b', { root: true }, trace.setSpan(ROOT_CONTEXT, parent)));
    expect(b.parentSpanContext).toBeUndefined();
    expect(b.spanContext().traceId).not.toBe(parent.spanContext().traceId);
  });

  it('unsampled spans are non-recording, skip processors, and still carry a context to propagate', () => {
    const { tracer, processor } = setup({ sampler: new AlwaysOffSampler() });
    const span = tracer.startSpan('s', { attributes: { a: 1 } });
    expect(span).toBeInstanceOf(NonRecordingSpan);
    expect(span.isRecording()).toBe(false);
    expect(span.spanContext().traceFlags & TraceFlags.SAMPLED).toBe(0);
    expect(span.spanContext().traceId).toMatch(/^[0-9a-f]{32}$/);
    span.setAttribute('b', 2).addEvent('e').setStatus({ code: SpanStatusCode.ERROR });
    span.end();
    expect(processor.started).toHaveLength(0);
    expect(processor.ended).toHaveLength(0);
    // A child of an unsampled span stays in its trace.
    const child = tracer.startSpan('c', {}, trace.setSpan(ROOT_CONTEXT, span));
    expect(child.spanContext().traceId).toBe(span.spanContext().traceId);
  });

  it('RECORD-only spans reach processors with the sampled flag off; sampler attributes and trace state apply', () => {
    const ts = createTraceState('sampler=yes');
    const { tracer, processor } = setup({
      sampler: {
        shouldSample: (_c, _t, name) =>
          name === 'record'
            ? { decision: SamplingDecision.RECORD, attributes: { 'sampler.attr': 'x' }, traceState: ts }
            : { decision: SamplingDecision.RECORD_AND_SAMPLED },
        toString: () => 'custom',
      },
    });
    tracer.startSpan('record').end();
    const s = processor.ended[0] as ReadableSpan;
    expect(s.spanContext().traceFlags & TraceFlags.SAMPLED).toBe(0);
    expect(s.attributes['sampler.attr']).toBe('x');
    expect(s.spanContext().traceState?.serialize()).toBe('sampler=yes');
  });

  it('does not trace when tracing is suppressed (the exporter context key)', () => {
    const { tracer, processor } = setup();
    const suppressed = ROOT_CONTEXT.setValue(
      Symbol.for('OpenTelemetry SDK Context Key SUPPRESS_TRACING'),
      true,
    );
    const span = tracer.startSpan('s', {}, suppressed);
    span.end();
    expect(span.isRecording()).toBe(false);
    expect(processor.ended).toHaveLength(0);
  });

  it('startActiveSpan supports all overloads and makes the span active inside', () => {
    const { tracer } = setup();
    const parentSpan = tracer.startSpan('explicit-parent');
    const seen: string[] = [];
    const r1 = tracer.startActiveSpan('one', (span) => {
      seen.push(trace.getActiveSpan() === span ? 'one:active' : 'one:not');
      span.end();
      return 1;
    });
    const r2 = tracer.startActiveSpan('two', { kind: SpanKind.SERVER }, (span) => {
      seen.push(readable(span).kind === SpanKind.SERVER ? 'two:server' : 'two:?');
      span.end();
      return 2;
    });
    const r3 = tracer.startActiveSpan('three', {}, trace.setSpan(ROOT_CONTEXT, parentSpan), (span) => {
      seen.push(
        readable(span).parentSpanContext?.spanId === parentSpan.spanContext().spanId
          ? 'three:child'
          : 'three:?',
      );
      span.end();
      return 3;
    });
    expect([r1, r2, r3]).toEqual([1, 2, 3]);
    // Without a context manager registered, the API's no-op manager cannot make it active; the
    // context-manager suite checks activation across async work with the real one.
    expect(seen.slice(1)).toEqual(['two:server', 'three:child']);
  });

  it('after shutdown, spans are non-recording and the same tracer is returned for the same scope', async () => {
    const { provider, processor } = setup();
    expect(provider.getTracer('a', '1')).toBe(provider.getTracer('a', '1'));
    expect(provider.getTracer('a', '1')).not.toBe(provider.getTracer('a', '2'));
    expect(provider.getTracer('a', '1', { schemaUrl: 'https://x' }).instrumentationScope).toEqual({
      name: 'a',
      version: '1',
      schemaUrl: 'https://x',
    });
    await provider.shutdown();
    const span = provider.getTracer('a').startSpan('late');
    span.end();
    expect(span.isRecording()).toBe(false);
    expect(processor.ended).toHaveLength(0);
  });
});

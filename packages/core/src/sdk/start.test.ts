import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { decodeSpanFlags, type OtlpReceiver, startOtlpReceiver } from '@tracewire/test-utils';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AlwaysOffSampler } from './samplers.js';
import { start, type Tracewire } from './start.js';
import { captureDiag, RecordingProcessor } from './test-support.js';
import { traced } from './traced.js';
import { TracewireTracerProvider } from './tracer-provider.js';

let receiver: OtlpReceiver;
let handle: Tracewire | undefined;

beforeAll(async () => {
  receiver = await startOtlpReceiver();
});
afterAll(async () => {
  await receiver.close();
});
afterEach(async () => {
  await handle?.shutdown();
  handle = undefined;
  receiver.reset();
  captureDiag();
});

/** Options that keep a test self-contained: no process.env, no signal listeners, no outgoing hooks. */
const quiet = { env: {}, shutdownOnSignals: false, outgoing: false } as const;

describe('start(): options validation', () => {
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ['unknown option', { servicename: 'x' }, /unknown option "servicename"/],
    ['serviceName', { serviceName: 42 }, /"serviceName" must be a non-empty string, got 42/],
    ['sampler', { sampler: 'sometimes' }, /"sampler" must be a Sampler or one of 'always_on'/],
    [
      'samplerArg range',
      { sampler: 'traceidratio', samplerArg: 1.5 },
      /"samplerArg" must be a number in \[0, 1\]/,
    ],
    ['samplerArg without ratio sampler', { sampler: 'always_on', samplerArg: 0.5 }, /"samplerArg"/],
    ['propagators', { propagators: ['w3c'] }, /"propagators" must be a TextMapPropagator or an array of/],
    [
      'traceExporter',
      { traceExporter: 'zipkin' },
      /"traceExporter" must be 'otlp', 'console', 'none' or a SpanExporter/,
    ],
    ['spanProcessors', { spanProcessors: [{}] }, /"spanProcessors\[0\]" must be a SpanProcessor/],
    [
      'spanProcessors + otlp',
      { spanProcessors: [], otlp: {} },
      /"otlp" cannot be combined with "spanProcessors"/,
    ],
    [
      'otlp with console',
      { traceExporter: 'console', otlp: {} },
      /"otlp" only applies with traceExporter 'otlp'/,
    ],
    [
      'batch with none',
      { traceExporter: 'none', batch: {} },
      /"batch" does not apply with traceExporter "none"/,
    ],
    ['spanLimits', { spanLimits: { attributeCountLimit: 'many' } }, /spanLimits\.attributeCountLimit/],
    ['outgoing', { outgoing: true }, /"outgoing" must be an OutgoingTracingOptions object or false/],
    ['shutdownOnSignals', { shutdownOnSignals: 'yes' }, /"shutdownOnSignals" must be a boolean/],
    ['disabled', { disabled: 1 }, /"disabled" must be a boolean/],
    ['resourceAttributes', { resourceAttributes: 'a=b' }, /"resourceAttributes" must be an object/],
  ];
  for (const [name, options, message] of cases) {
    it(`throws a TypeError naming ${name}`, () => {
      expect(() => start(options as never)).toThrow(TypeError);
      expect(() => start(options as never)).toThrow(message);
      expect(trace.getTracerProvider().getTracer('x').startSpan('s').isRecording()).toBe(false);
    });
  }
  it('passes invalid outgoing options on as a TypeError, with nothing registered', () => {
    expect(() =>
      start({ env: {}, shutdownOnSignals: false, outgoing: { propagateTo: 42 as never } }),
    ).toThrow(/propagateTo/);
    expect(trace.getTracer('x').startSpan('s').isRecording()).toBe(false);
    expect(propagation.fields()).toEqual([]);
    handle = start({ ...quiet, traceExporter: 'none' });
    expect(handle.enabled).toBe(true);
  });
  it('passes invalid exporter options on as the exporter’s TypeError', () => {
    expect(() => start({ ...quiet, otlp: { compression: 'brotli' as never } })).toThrow(/compression/);
  });
});

describe('start(): lifecycle', () => {
  it('registers provider, context manager and propagator; a second call warns and returns the first handle', () => {
    const log = captureDiag();
    handle = start({ ...quiet, traceExporter: 'none' });
    expect(handle.enabled).toBe(true);
    const again = start({ ...quiet, serviceName: 'other' });
    expect(again).toBe(handle);
    expect(log.text()).toMatch(/start\(\) was called more than once/);
    const tracer = trace.getTracer('t');
    const outer = tracer.startSpan('outer');
    expect(outer.isRecording()).toBe(true);
    context.with(trace.setSpan(ROOT_CONTEXT, outer), () => {
      expect(trace.getActiveSpan()).toBe(outer);
      const carrier: Record<string, string> = {};
      propagation.inject(context.active(), carrier);
      const sc = outer.spanContext();
      // New trace we started: sampled + W3C Level 2 random flag.
      expect(carrier.traceparent).toBe(`00-${sc.traceId}-${sc.spanId}-03`);
    });
  });

  it('shutdown() unregisters everything, so the app runs untraced and start() works again', async () => {
    handle = start({ ...quiet, traceExporter: 'none' });
    await handle.shutdown();
    expect(trace.getTracer('t').startSpan('s').isRecording()).toBe(false);
    expect(context.active()).toBe(ROOT_CONTEXT);
    handle = start({ ...quiet, traceExporter: 'none' });
    expect(trace.getTracer('t').startSpan('s').isRecording()).toBe(true);
  });

  it('disabled (option or OTEL_SDK_DISABLED=true) sets up nothing', async () => {
    handle = start({ ...quiet, disabled: true });
    expect(handle.enabled).toBe(false);
    expect(trace.getTracer('t').startSpan('s').isRecording()).toBe(false);
    await handle.forceFlush();
    await handle.shutdown();
    handle = start({ ...quiet, env: { OTEL_SDK_DISABLED: 'TRUE' } });
    expect(handle.enabled).toBe(false);
    await handle.shutdown();
    handle = start({ ...quiet, env: { OTEL_SDK_DISABLED: 'false' }, traceExporter: 'none' });
    expect(handle.enabled).toBe(true);
  });

  it('adds SIGTERM/SIGINT listeners only with shutdownOnSignals, and removes them on shutdown', async () => {
    const before = [process.listenerCount('SIGTERM'), process.listenerCount('SIGINT')];
    handle = start({ env: {}, outgoing: false, traceExporter: 'none' });
    expect([process.listenerCount('SIGTERM'), process.listenerCount('SIGINT')]).toEqual([
      before[0]! + 1,
      before[1]! + 1,
    ]);
    await handle.shutdown();
    expect([process.listenerCount('SIGTERM'), process.listenerCount('SIGINT')]).toEqual(before);
    handle = start({ ...quiet, traceExporter: 'none' });
    expect([process.listenerCount('SIGTERM'), process.listenerCount('SIGINT')]).toEqual(before);
  });

  it('OTEL_PROPAGATORS picks the propagators; code wins', () => {
    handle = start({ ...quiet, traceExporter: 'none', env: { OTEL_PROPAGATORS: 'b3multi' } });
    expect(propagation.fields()).toContain('x-b3-traceid');
    expect(propagation.fields()).not.toContain('traceparent');
  });

  it('code propagators win over OTEL_PROPAGATORS', () => {
    handle = start({
      ...quiet,
      traceExporter: 'none',
      propagators: ['b3'],
      env: { OTEL_PROPAGATORS: 'tracecontext' },
    });
    expect(propagation.fields()).toContain('b3');
    expect(propagation.fields()).not.toContain('traceparent');
  });

  it('sampler: code wins over OTEL_TRACES_SAMPLER; samplerArg over OTEL_TRACES_SAMPLER_ARG', () => {
    const env = { OTEL_TRACES_SAMPLER: 'always_off', OTEL_TRACES_SAMPLER_ARG: '0' };
    handle = start({ ...quiet, traceExporter: 'none', env });
    expect((handle.tracerProvider as TracewireTracerProvider).sampler.toString()).toBe('AlwaysOffSampler');
    void handle.shutdown();
    handle = start({ ...quiet, traceExporter: 'none', env, sampler: 'traceidratio', samplerArg: 0.5 });
    expect((handle.tracerProvider as TracewireTracerProvider).sampler.toString()).toBe(
      'TraceIdRatioBased{0.5}',
    );
    void handle.shutdown();
    handle = start({
      ...quiet,
      traceExporter: 'none',
      env: { OTEL_TRACES_SAMPLER: 'traceidratio' },
      samplerArg: 0.2,
    });
    expect((handle.tracerProvider as TracewireTracerProvider).sampler.toString()).toBe(
      'TraceIdRatioBased{0.2}',
    );
    void handle.shutdown();
    handle = start({ ...quiet, traceExporter: 'none', sampler: new AlwaysOffSampler() });
    expect(trace.getTracer('t').startSpan('s').isRecording()).toBe(false);
  });

  it('OTEL_TRACES_EXPORTER=none exports nothing; spanProcessors replace the default exporter', async () => {
    handle = start({ ...quiet, env: { OTEL_TRACES_EXPORTER: 'none' } });
    expect((handle.tracerProvider as TracewireTracerProvider).spanProcessors).toHaveLength(0);
    await handle.shutdown();
    const processor = new RecordingProcessor();
    handle = start({ ...quiet, spanProcessors: [processor] });
    traced('work', () => 1);
    expect(processor.ended.map((s) => s.name)).toEqual(['work']);
  });
});

describe('start(): end to end through OTLP', () => {
  it('exports nested spans with ids, parents, attributes and resource to a real receiver', async () => {
    handle = start({
      ...quiet,
      serviceName: 'checkout',
      serviceVersion: '2.0.0',
      resourceAttributes: { 'deployment.environment.name': 'test' },
      otlp: { url: receiver.tracesUrl },
      env: { OTEL_RESOURCE_ATTRIBUTES: 'team=payments' },
    });
    const tracer = trace.getTracer('shop', '1.0.0');
    await tracer.startActiveSpan('POST /orders', { kind: SpanKind.SERVER }, async (server) => {
      server.setAttribute('http.request.method', 'POST');
      await traced('reserve stock', async (span) => {
        span.setAttribute('items', 3);
        await new Promise((r) => setTimeout(r, 2));
      });
      await traced('charge card', async () => {
        throw new Error('card declined');
      }).catch(() => {});
      server.end();
    });
    await handle.forceFlush();
    const spans = await receiver.waitForSpans(3);
    const byName = Object.fromEntries(spans.map((s) => [s.name, s]));
    const server = byName['POST /orders']!;
    const reserve = byName['reserve stock']!;
    const charge = byName['charge card']!;
    expect(server.kind).toBe(2); // OTLP SPAN_KIND_SERVER
    expect(server.parentSpanId).toBe('');
    expect(reserve.parentSpanId).toBe(server.spanId);
    expect(charge.parentSpanId).toBe(server.spanId);
    expect(new Set(spans.map((s) => s.traceId)).size).toBe(1);
    expect(reserve.kind).toBe(1); // INTERNAL
    expect(reserve.attributes).toEqual({ items: 3 });
    expect(Number(reserve.endTimeUnixNano - reserve.startTimeUnixNano)).toBeGreaterThan(1_000_000);
    expect(charge.status).toEqual({ code: SpanStatusCode.ERROR, message: 'card declined' });
    expect(charge.events[0]?.name).toBe('exception');
    expect(charge.events[0]?.attributes['exception.message']).toBe('card declined');
    // Span.flags is newer than the independent decoder: read it from the wire with protobufjs.
    const flags = receiver.requests.flatMap((r) => decodeSpanFlags(r.body)).map((f) => (f.flags ?? 0) & 0xff);
    expect(flags).toEqual([0x03, 0x03, 0x03]);
    expect(server.scope).toMatchObject({ name: 'shop', version: '1.0.0' });
    expect(server.resource).toMatchObject({
      'service.name': 'checkout',
      'service.version': '2.0.0',
      'deployment.environment.name': 'test',
      team: 'payments',
      'telemetry.sdk.name': 'tracewire',
      'telemetry.sdk.language': 'nodejs',
    });
  });

  it('reads OTEL_EXPORTER_OTLP_ENDPOINT when no otlp option is given, and flushes on shutdown', async () => {
    handle = start({
      ...quiet,
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_SERVICE_NAME: 'from-env' },
    });
    traced('one', () => undefined);
    await handle.shutdown();
    const spans = await receiver.waitForSpans(1);
    expect(spans[0]?.name).toBe('one');
    expect(spans[0]?.resource['service.name']).toBe('from-env');
  });
});

describe('traced()', () => {
  it('returns sync results, re-throws sync errors, handles promises, nests under the active span', async () => {
    const processor = new RecordingProcessor();
    handle = start({ ...quiet, spanProcessors: [processor] });
    expect(traced('sync', () => 42)).toBe(42);
    expect(() =>
      traced('throws', () => {
        throw new TypeError('bad');
      }),
    ).toThrow(TypeError);
    await expect(traced('resolves', async () => 'ok')).resolves.toBe('ok');
    await expect(traced('rejects', () => Promise.reject('plain reason'))).rejects.toBe('plain reason');
    traced('parent', () => traced('child', () => undefined));
    const byName = Object.fromEntries(processor.ended.map((s) => [s.name, s]));
    expect(byName.sync?.status.code).toBe(SpanStatusCode.UNSET);
    expect(byName.throws?.status).toEqual({ code: SpanStatusCode.ERROR, message: 'bad' });
    expect(byName.throws?.events[0]?.attributes?.['exception.type']).toBe('TypeError');
    expect(byName.resolves?.status.code).toBe(SpanStatusCode.UNSET);
    expect(byName.rejects?.status).toEqual({ code: SpanStatusCode.ERROR, message: 'plain reason' });
    expect(byName.child?.parentSpanContext?.spanId).toBe(byName.parent?.spanContext().spanId);
    expect(byName.child?.kind).toBe(SpanKind.INTERNAL);
    expect(() => traced('x', 'not a function' as never)).toThrow(TypeError);
  });

  it('honours the tracer, context, kind, attributes and root options', () => {
    const processor = new RecordingProcessor();
    const provider = new TracewireTracerProvider({ env: {}, spanProcessors: [processor] });
    const tracer = provider.getTracer('own');
    const parent = tracer.startSpan('explicit parent');
    traced('with context', () => undefined, {
      tracer,
      context: trace.setSpan(ROOT_CONTEXT, parent),
      kind: SpanKind.PRODUCER,
      attributes: { 'messaging.system': 'kafka' },
    });
    traced('root', () => undefined, { tracer, root: true, context: trace.setSpan(ROOT_CONTEXT, parent) });
    const [withContext, root] = processor.ended;
    expect(withContext?.parentSpanContext?.spanId).toBe(parent.spanContext().spanId);
    expect(withContext?.kind).toBe(SpanKind.PRODUCER);
    expect(withContext?.attributes).toEqual({ 'messaging.system': 'kafka' });
    expect(withContext?.instrumentationScope.name).toBe('own');
    expect(root?.parentSpanContext).toBeUndefined();
    expect(root?.spanContext().traceId).not.toBe(parent.spanContext().traceId);
  });
});

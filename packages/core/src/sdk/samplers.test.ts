import { ROOT_CONTEXT, SpanKind, type SpanContext, trace } from '@opentelemetry/api';
import {
  ParentBasedSampler as OfficialParentBased,
  TraceIdRatioBasedSampler as OfficialRatio,
  SamplingDecision as OfficialDecision,
} from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import { RandomIdGenerator } from './id-generator.js';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  ParentBasedSampler,
  type Sampler,
  SamplingDecision,
  TraceIdRatioBasedSampler,
} from './samplers.js';
import { samplerFromEnv } from './tracer-provider.js';

const decide = (s: Sampler, traceId: string, ctx = ROOT_CONTEXT) =>
  s.shouldSample(ctx, traceId, 'n', SpanKind.INTERNAL, {}, []).decision;

describe('SamplingDecision', () => {
  it('has the official numeric values', () => {
    expect(SamplingDecision.NOT_RECORD).toBe(OfficialDecision.NOT_RECORD);
    expect(SamplingDecision.RECORD).toBe(OfficialDecision.RECORD);
    expect(SamplingDecision.RECORD_AND_SAMPLED).toBe(OfficialDecision.RECORD_AND_SAMPLED);
  });
});

describe('TraceIdRatioBasedSampler', () => {
  const ids = new RandomIdGenerator();
  const traceIds = Array.from({ length: 20_000 }, () => ids.generateTraceId());

  it('agrees with the official sampler trace by trace, and is deterministic', () => {
    for (const ratio of [0, 0.01, 0.25, 0.5, 0.9, 1]) {
      const ours = new TraceIdRatioBasedSampler(ratio);
      const official = new OfficialRatio(ratio);
      for (const id of traceIds.slice(0, 5000)) {
        const d = decide(ours, id);
        expect(d).toBe(official.shouldSample(ROOT_CONTEXT, id).decision);
        expect(decide(ours, id)).toBe(d);
      }
    }
  });

  it('samples about the ratio of random traces', () => {
    const sampled = traceIds.filter(
      (id) => decide(new TraceIdRatioBasedSampler(0.25), id) === SamplingDecision.RECORD_AND_SAMPLED,
    ).length;
    expect(sampled / traceIds.length).toBeGreaterThan(0.23);
    expect(sampled / traceIds.length).toBeLessThan(0.27);
  });

  it('clamps the ratio and names itself like the official one', () => {
    expect(new TraceIdRatioBasedSampler(0.5).toString()).toBe('TraceIdRatioBased{0.5}');
    expect(new TraceIdRatioBasedSampler(5).toString()).toBe('TraceIdRatioBased{1}');
    expect(new TraceIdRatioBasedSampler(-1).toString()).toBe('TraceIdRatioBased{0}');
    expect(new TraceIdRatioBasedSampler(Number.NaN).toString()).toBe('TraceIdRatioBased{0}');
    expect(decide(new TraceIdRatioBasedSampler(1), 'not-a-trace-id')).toBe(SamplingDecision.NOT_RECORD);
  });
});

describe('ParentBasedSampler', () => {
  const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
  const parent = (flags: number, isRemote: boolean): SpanContext => ({
    traceId,
    spanId: '00f067aa0ba902b7',
    traceFlags: flags,
    isRemote,
  });
  const ctx = (sc: SpanContext) => trace.setSpanContext(ROOT_CONTEXT, sc);
  const on = new AlwaysOnSampler();
  const off = new AlwaysOffSampler();
  const S = SamplingDecision.RECORD_AND_SAMPLED;
  const N = SamplingDecision.NOT_RECORD;

  it('follows the parent by default (remote and local), root decides without a parent', () => {
    for (const root of [on, off]) {
      const ours = new ParentBasedSampler({ root });
      const official = new OfficialParentBased({ root });
      const cases: [SpanContext | undefined, number][] = [
        [undefined, root === on ? S : N],
        [parent(1, true), S],
        [parent(0, true), N],
        [parent(1, false), S],
        [parent(0, false), N],
        [parent(3, true), S], // the random flag does not matter
      ];
      for (const [p, expected] of cases) {
        const c = p ? ctx(p) : ROOT_CONTEXT;
        expect(decide(ours, traceId, c)).toBe(expected);
        expect(official.shouldSample(c, traceId, 'n', SpanKind.INTERNAL, {}, []).decision).toBe(expected);
      }
    }
  });

  it('uses each configured delegate for its case', () => {
    const tag = (d: SamplingDecision, name: string): Sampler => ({
      shouldSample: () => ({ decision: d, attributes: { which: name } }),
      toString: () => name,
    });
    const s = new ParentBasedSampler({
      root: tag(S, 'root'),
      remoteParentSampled: tag(N, 'rs'),
      remoteParentNotSampled: tag(S, 'rn'),
      localParentSampled: tag(N, 'ls'),
      localParentNotSampled: tag(S, 'ln'),
    });
    const which = (c = ROOT_CONTEXT) =>
      s.shouldSample(c, traceId, 'n', SpanKind.INTERNAL, {}, []).attributes?.which;
    expect(which()).toBe('root');
    expect(which(ctx(parent(1, true)))).toBe('rs');
    expect(which(ctx(parent(0, true)))).toBe('rn');
    expect(which(ctx(parent(1, false)))).toBe('ls');
    expect(which(ctx(parent(0, false)))).toBe('ln');
    expect(s.toString()).toBe(
      'ParentBased{root=root, remoteParentSampled=rs, remoteParentNotSampled=rn, localParentSampled=ls, localParentNotSampled=ln}',
    );
    expect(new ParentBasedSampler({ root: on }).toString()).toBe(
      new OfficialParentBased({ root: new AlwaysOnSampler() }).toString(),
    );
  });

  it('treats an invalid parent as no parent', () => {
    const s = new ParentBasedSampler({ root: off });
    const invalid = { traceId: '0'.repeat(32), spanId: '0'.repeat(16), traceFlags: 1 };
    expect(decide(s, traceId, ctx(invalid))).toBe(N);
  });

  it('rejects a missing root with a TypeError', () => {
    expect(() => new ParentBasedSampler({} as never)).toThrow(/options\.root must be a Sampler/);
  });
});

describe('OTEL_TRACES_SAMPLER', () => {
  it('builds every named sampler, defaulting to parentbased_always_on', () => {
    expect(samplerFromEnv({}).toString()).toMatch(/^ParentBased\{root=AlwaysOnSampler/);
    expect(samplerFromEnv({ OTEL_TRACES_SAMPLER: 'always_off' }).toString()).toBe('AlwaysOffSampler');
    expect(samplerFromEnv({ OTEL_TRACES_SAMPLER: 'ALWAYS_ON' }).toString()).toBe('AlwaysOnSampler');
    expect(
      samplerFromEnv({ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.3' }).toString(),
    ).toBe('TraceIdRatioBased{0.3}');
    expect(
      samplerFromEnv({
        OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
        OTEL_TRACES_SAMPLER_ARG: '0.1',
      }).toString(),
    ).toMatch(/^ParentBased\{root=TraceIdRatioBased\{0.1\}/);
    expect(samplerFromEnv({ OTEL_TRACES_SAMPLER: 'parentbased_always_off' }).toString()).toMatch(
      /^ParentBased\{root=AlwaysOffSampler/,
    );
  });

  it('ignores an unknown sampler or a bad ratio (warns), as the spec says', () => {
    expect(samplerFromEnv({ OTEL_TRACES_SAMPLER: 'sometimes' }).toString()).toMatch(
      /^ParentBased\{root=AlwaysOn/,
    );
    expect(
      samplerFromEnv({ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '2' }).toString(),
    ).toBe('TraceIdRatioBased{1}');
  });
});

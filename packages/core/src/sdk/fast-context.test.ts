import { createContextKey, ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { EMPTY_CONTEXT } from './fast-context.js';

const A = createContextKey('a');
const B = createContextKey('b');

describe('EMPTY_CONTEXT (chain context)', () => {
  it('behaves as the API context: immutable set, get and delete', () => {
    const c1 = EMPTY_CONTEXT.setValue(A, 1);
    const c2 = c1.setValue(B, 2);
    const c3 = c2.setValue(A, 3);
    const c4 = c3.deleteValue(B);
    expect(EMPTY_CONTEXT.getValue(A)).toBeUndefined();
    expect(c1.getValue(A)).toBe(1);
    expect(c1.getValue(B)).toBeUndefined();
    expect(c2.getValue(A)).toBe(1);
    expect(c2.getValue(B)).toBe(2);
    expect(c3.getValue(A)).toBe(3);
    expect(c4.getValue(B)).toBeUndefined();
    expect(c4.getValue(A)).toBe(3);
    // Same answers as the API's Map-based context for the same operations.
    const r = ROOT_CONTEXT.setValue(A, 1).setValue(B, 2).setValue(A, 3).deleteValue(B);
    expect([r.getValue(A), r.getValue(B)]).toEqual([c4.getValue(A), c4.getValue(B)]);
  });

  it('stays correct past the flattening depth (deep nesting, deletes, overrides)', () => {
    const keys = Array.from({ length: 40 }, (_, i) => createContextKey(`k${i}`));
    let chain = EMPTY_CONTEXT;
    let api = ROOT_CONTEXT;
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < keys.length; i++) {
        const k = keys[i]!;
        if ((i + round) % 7 === 0) {
          chain = chain.deleteValue(k);
          api = api.deleteValue(k);
        } else {
          chain = chain.setValue(k, `${round}:${i}`);
          api = api.setValue(k, `${round}:${i}`);
        }
      }
    }
    for (const k of keys) expect(chain.getValue(k)).toBe(api.getValue(k));
  });

  it('carries spans through the trace API', () => {
    const span = trace.wrapSpanContext({
      traceId: '0af7651916cd43dd8448eb211c80319c',
      spanId: 'b7ad6b7169203331',
      traceFlags: 1,
    });
    const ctx = trace.setSpan(EMPTY_CONTEXT, span);
    expect(trace.getSpan(ctx)).toBe(span);
    expect(trace.getSpan(trace.deleteSpan(ctx))).toBeUndefined();
  });
});

/**
 * Composition of propagators, and the `OTEL_PROPAGATORS` names
 * (`specification/configuration/sdk-environment-variables.md`, "General SDK Configuration").
 */
import type { Context, TextMapGetter, TextMapPropagator, TextMapSetter } from '@opentelemetry/api';
import { diag } from '../api.js';
import { B3Propagator } from './b3.js';
import { W3CBaggagePropagator } from './baggage.js';
import { reportFailure } from './carrier.js';
import { W3CTraceContextPropagator } from './trace-context.js';

/** Options of {@link CompositePropagator}. */
export interface CompositePropagatorOptions {
  /** Propagators run in order for both inject and extract. Default: none. */
  propagators?: readonly TextMapPropagator[];
}

function isPropagator(p: unknown): p is TextMapPropagator {
  return (
    typeof p === 'object' &&
    p !== null &&
    typeof (p as TextMapPropagator).inject === 'function' &&
    typeof (p as TextMapPropagator).extract === 'function' &&
    typeof (p as TextMapPropagator).fields === 'function'
  );
}

/**
 * Runs several propagators as one. `inject` and `extract` call each in order (a later extractor sees
 * the context returned by the earlier ones); one that throws is reported through `diag` and skipped,
 * so this never throws. `fields()` is the union of the members' fields, computed once.
 *
 * @example
 * ```ts
 * import { propagation } from '@opentelemetry/api';
 * import { CompositePropagator, W3CTraceContextPropagator, W3CBaggagePropagator } from '@tracewire/core';
 * propagation.setGlobalPropagator(
 *   new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }),
 * );
 * ```
 */
export class CompositePropagator implements TextMapPropagator {
  readonly #propagators: readonly TextMapPropagator[];
  readonly #fields: readonly string[];

  constructor(options: CompositePropagatorOptions = {}) {
    if (typeof options !== 'object' || options === null) {
      throw new TypeError('CompositePropagator: options must be an object');
    }
    const list = options.propagators ?? [];
    if (!Array.isArray(list)) {
      throw new TypeError('CompositePropagator: options.propagators must be an array of TextMapPropagator');
    }
    list.forEach((p, i) => {
      if (!isPropagator(p)) {
        throw new TypeError(
          `CompositePropagator: options.propagators[${i}] must be a TextMapPropagator (inject, extract, fields)`,
        );
      }
    });
    this.#propagators = list.slice();
    const fields = new Set<string>();
    for (const p of this.#propagators) {
      try {
        for (const f of p.fields()) if (typeof f === 'string') fields.add(f);
      } catch (err) {
        reportFailure('composite.fields', 'a propagator fields()', err);
      }
    }
    this.#fields = [...fields];
  }

  inject(context: Context, carrier: unknown, setter: TextMapSetter): void {
    for (const p of this.#propagators) {
      try {
        p.inject(context, carrier, setter);
      } catch (err) {
        reportFailure('composite.inject', `${p.constructor?.name ?? 'propagator'}.inject`, err);
      }
    }
  }

  extract(context: Context, carrier: unknown, getter: TextMapGetter): Context {
    let ctx = context;
    for (const p of this.#propagators) {
      try {
        const next = p.extract(ctx, carrier, getter);
        // A misbehaving propagator returning nothing must not lose what earlier ones extracted.
        if (next !== undefined && next !== null) ctx = next;
      } catch (err) {
        reportFailure('composite.extract', `${p.constructor?.name ?? 'propagator'}.extract`, err);
      }
    }
    return ctx;
  }

  fields(): string[] {
    return this.#fields.slice();
  }
}

/** Names accepted in `OTEL_PROPAGATORS` that tracewire implements. */
export const KNOWN_PROPAGATOR_NAMES = ['tracecontext', 'baggage', 'b3', 'b3multi', 'none'] as const;

/**
 * Build the propagator for a list of `OTEL_PROPAGATORS` names (split on `,`; case and surrounding
 * spaces do not matter; the variable's default is `tracecontext,baggage`). `none` anywhere means no propagation. Unknown names
 * (`xray`, `jaeger`, `ottrace`, typos) are warned about through `diag` and ignored; duplicates are
 * used once.
 *
 * @example
 * ```ts
 * propagatorFromNames(['tracecontext', 'baggage', 'b3multi']);
 * ```
 */
export function propagatorFromNames(names: readonly string[]): CompositePropagator {
  if (!Array.isArray(names)) throw new TypeError('propagatorFromNames: names must be an array of strings');
  // Names are case-insensitive (the specification's enum rule); tolerate untrimmed input too.
  const list = names.map((n) => String(n).trim().toLowerCase()).filter((n) => n !== '');
  if (list.includes('none')) return new CompositePropagator({ propagators: [] });
  const seen = new Set<string>();
  const propagators: TextMapPropagator[] = [];
  for (const name of list) {
    if (seen.has(name)) continue;
    seen.add(name);
    switch (name) {
      case 'tracecontext':
        propagators.push(new W3CTraceContextPropagator());
        break;
      case 'baggage':
        propagators.push(new W3CBaggagePropagator());
        break;
      case 'b3':
        propagators.push(new B3Propagator({ injectEncoding: 'single' }));
        break;
      case 'b3multi':
        propagators.push(new B3Propagator({ injectEncoding: 'multi' }));
        break;
      default:
        diag.warn(
          `tracewire: OTEL_PROPAGATORS contains unknown propagator "${name}" (known: ${KNOWN_PROPAGATOR_NAMES.join(', ')}); ignoring it`,
        );
    }
  }
  return new CompositePropagator({ propagators });
}

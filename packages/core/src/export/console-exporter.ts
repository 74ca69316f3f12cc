/**
 * A span exporter for debugging: prints each span as a readable block. Not for production (it
 * writes synchronously to stdout). Use it with `OTEL_TRACES_EXPORTER=console` or directly.
 */
import { SpanKind, SpanStatusCode } from '../api.js';
import { type ExportResult, ExportResultCode, type ReadableSpan, type SpanExporter } from '../sdk/types.js';

/** Options of {@link ConsoleSpanExporter}. */
export interface ConsoleSpanExporterOptions {
  /** Where each block goes; default `console.log`. */
  write?: (text: string) => void;
}

const KIND_NAMES: Record<number, string> = {
  [SpanKind.INTERNAL]: 'INTERNAL',
  [SpanKind.SERVER]: 'SERVER',
  [SpanKind.CLIENT]: 'CLIENT',
  [SpanKind.PRODUCER]: 'PRODUCER',
  [SpanKind.CONSUMER]: 'CONSUMER',
};
const STATUS_NAMES: Record<number, string> = {
  [SpanStatusCode.UNSET]: 'UNSET',
  [SpanStatusCode.OK]: 'OK',
  [SpanStatusCode.ERROR]: 'ERROR',
};

function value(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(value).join(', ')}]`;
  return String(v);
}

function attrs(a: Record<string, unknown> | undefined, indent: string): string {
  if (!a) return '';
  let out = '';
  for (const k of Object.keys(a)) {
    if (a[k] === undefined) continue;
    out += `\n${indent}${k}: ${value(a[k])}`;
  }
  return out;
}

/** Milliseconds of an HrTime duration, with microsecond precision. */
function ms(d: readonly [number, number]): string {
  return (d[0] * 1e3 + d[1] / 1e6).toFixed(3);
}

/** The readable block for one span (exported for tests and custom printers). */
export function formatSpan(span: ReadableSpan): string {
  const ctx = span.spanContext();
  const parent = span.parentSpanContext?.spanId ?? (span as { parentSpanId?: string }).parentSpanId;
  const status = span.status ?? { code: SpanStatusCode.UNSET };
  let out = `${span.name} (${KIND_NAMES[span.kind] ?? span.kind}) ${ms(span.duration)} ms`;
  out += `\n  trace: ${ctx.traceId}  span: ${ctx.spanId}  parent: ${parent ?? '-'}`;
  out += `\n  status: ${STATUS_NAMES[status.code] ?? status.code}${status.message ? ` (${status.message})` : ''}`;
  out += `\n  scope: ${span.instrumentationScope?.name ?? ''}${span.instrumentationScope?.version ? `@${span.instrumentationScope.version}` : ''}`;
  const a = attrs(span.attributes, '    ');
  if (a) out += `\n  attributes:${a}`;
  if (span.events.length > 0) {
    out += '\n  events:';
    for (const e of span.events) {
      out += `\n    ${e.name} (+${ms(diff(e.time, span.startTime))} ms)${attrs(e.attributes, '      ')}`;
    }
  }
  if (span.links.length > 0) {
    out += '\n  links:';
    for (const l of span.links)
      out += `\n    ${l.context.traceId}/${l.context.spanId}${attrs(l.attributes, '      ')}`;
  }
  return out;
}

function diff(a: readonly [number, number], b: readonly [number, number]): [number, number] {
  let s = a[0] - b[0];
  let n = a[1] - b[1];
  if (n < 0) {
    s -= 1;
    n += 1e9;
  }
  return [s, n];
}

/**
 * Prints each exported span as a block: name, kind, duration, ids, status, attributes, events.
 *
 * @example
 * ```ts
 * import { ConsoleSpanExporter, SimpleSpanProcessor } from '@tracewire/core';
 * const processor = new SimpleSpanProcessor(new ConsoleSpanExporter());
 * // GET /users/:id (SERVER) 1.234 ms
 * //   trace: 4bf92f3577b34da6a3ce929d0e0e4736  span: 00f067aa0ba902b7  parent: -
 * //   status: UNSET
 * //   ...
 * ```
 */
export class ConsoleSpanExporter implements SpanExporter {
  readonly #write: (text: string) => void;
  #shutdown = false;

  constructor(options: ConsoleSpanExporterOptions = {}) {
    if (options.write !== undefined && typeof options.write !== 'function') {
      throw new TypeError('ConsoleSpanExporter: options.write must be a function');
    }
    this.#write = options.write ?? ((text) => console.log(text));
  }

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    if (this.#shutdown) {
      resultCallback({ code: ExportResultCode.FAILED, error: new Error('ConsoleSpanExporter is shut down') });
      return;
    }
    let result: ExportResult = { code: ExportResultCode.SUCCESS };
    try {
      for (const span of spans) this.#write(formatSpan(span));
    } catch (err) {
      result = { code: ExportResultCode.FAILED, error: err instanceof Error ? err : new Error(String(err)) };
    }
    resultCallback(result);
  }

  async forceFlush(): Promise<void> {}

  async shutdown(): Promise<void> {
    this.#shutdown = true;
  }
}

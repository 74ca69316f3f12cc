/**
 * The simple span processor (OpenTelemetry SDK spec, `trace/sdk.md`, "Simple processor"): exports
 * each sampled span as soon as it ends. Meant for debugging and tests (with the console exporter);
 * use {@link BatchSpanProcessor} in production. Exports are not concurrent-limited, so the number
 * of pending ones is bounded by `maxPending`: beyond it spans are dropped and counted.
 */
import type { Context } from '@opentelemetry/api';
import { report } from '../sdk/report.js';
import {
  type ExportResult,
  ExportResultCode,
  type ReadableSpan,
  type SpanExporter,
  type SpanProcessor,
} from '../sdk/types.js';
import { splitCounts } from './batch-processor.js';

/** Options of {@link SimpleSpanProcessor}. */
export interface SimpleSpanProcessorOptions {
  /** Most exports pending at once; spans ending beyond it are dropped and counted. Default 1024. */
  maxPending?: number;
}

/**
 * Exports every sampled span when it ends, one span per export.
 *
 * @example
 * ```ts
 * import { ConsoleSpanExporter, SimpleSpanProcessor } from '@tracewire/core';
 * const processor = new SimpleSpanProcessor(new ConsoleSpanExporter());
 * ```
 */
export class SimpleSpanProcessor implements SpanProcessor {
  readonly #exporter: SpanExporter;
  readonly #maxPending: number;
  readonly #pending = new Set<Promise<void>>();
  #accepted = 0;
  #exported = 0;
  #dropped = 0;
  #failed = 0;
  #shutdown: Promise<void> | undefined;

  constructor(exporter: SpanExporter, options: SimpleSpanProcessorOptions = {}) {
    if (!exporter || typeof exporter.export !== 'function') {
      throw new TypeError('SimpleSpanProcessor: exporter must be a SpanExporter (an object with export())');
    }
    const max = options.maxPending ?? 1024;
    if (!Number.isInteger(max) || max < 1) {
      throw new TypeError(`SimpleSpanProcessor: options.maxPending must be an integer ≥ 1, got ${max}`);
    }
    this.#exporter = exporter;
    this.#maxPending = max;
  }

  /** Counters, as {@link BatchSpanProcessor#stats}: `accepted = exporting + exported + dropped + failed`. */
  stats(): { accepted: number; exporting: number; exported: number; dropped: number; failed: number } {
    return {
      accepted: this.#accepted,
      exporting: this.#pending.size,
      exported: this.#exported,
      dropped: this.#dropped,
      failed: this.#failed,
    };
  }

  onStart(_span: unknown, _parentContext: Context): void {}

  onEnd(span: ReadableSpan): void {
    if ((span.spanContext().traceFlags & 1) === 0) return;
    this.#accepted++;
    if (this.#shutdown || this.#pending.size >= this.#maxPending) {
      this.#dropped++;
      report(
        'ssp:dropped',
        this.#shutdown
          ? 'a span ended after the simple processor was shut down; it was dropped'
          : `too many exports pending (maxPending=${this.#maxPending}); span dropped`,
      );
      return;
    }
    const p = new Promise<ExportResult>((resolve) => {
      try {
        this.#exporter.export([span], resolve);
      } catch (err) {
        resolve({
          code: ExportResultCode.FAILED,
          error: err instanceof Error ? err : new Error(String(err)),
        });
      }
    }).then((r) => {
      this.#pending.delete(p);
      if (splitCounts(r, 1).exported === 1) this.#exported++;
      else {
        this.#failed++;
        report('ssp:export-failed', `export failed: ${r?.error?.message ?? 'unknown error'}`);
      }
    });
    this.#pending.add(p);
  }

  /** Waits for pending exports and the exporter's own `forceFlush`. */
  async forceFlush(): Promise<void> {
    await Promise.all([...this.#pending]);
    try {
      await this.#exporter.forceFlush?.();
    } catch (err) {
      report('ssp:exporter-flush', `exporter.forceFlush failed: ${err instanceof Error ? err.message : err}`);
    }
  }

  /** Flushes, then shuts the exporter down. Idempotent. */
  shutdown(): Promise<void> {
    this.#shutdown ??= (async () => {
      await this.forceFlush();
      try {
        await this.#exporter.shutdown();
      } catch (err) {
        report(
          'ssp:exporter-shutdown',
          `exporter.shutdown failed: ${err instanceof Error ? err.message : err}`,
        );
      }
    })();
    return this.#shutdown;
  }
}

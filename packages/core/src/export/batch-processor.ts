/**
 * The batch span processor (OpenTelemetry SDK spec, `trace/sdk.md`, "Batching processor"), built
 * so that memory stays bounded whatever the collector does, and every span is accounted for:
 *
 *   accepted = queued + exporting + exported + dropped + failed
 *
 * - The queue is a fixed ring buffer of `maxQueueSize` slots: O(1) enqueue and dequeue, no array
 *   shifting, no growth. A span that arrives when it is full is dropped and counted.
 * - An export starts when a batch is full or when the schedule timer fires; at most
 *   `maxConcurrentExports` run at once, each bounded by `exportTimeoutMillis`.
 * - `forceFlush()` exports everything queued when it was called, batch after batch, waiting for a
 *   free export slot instead of failing (the official SDK fails with "Concurrent export limit
 *   reached" when its queue holds more than one batch).
 * - Timers are `unref()`ed so a pending export never keeps the process alive; `shutdown()` is the
 *   place that flushes.
 * - Encode on end: with tracewire's own `OtlpHttpExporter` (protobuf), a span is encoded to OTLP
 *   bytes when it ends and only the bytes are queued (`span-arena.ts` says why: queued span objects
 *   cost more in garbage collection than encoding them). An export then copies the bytes of its
 *   batch under the resource and scope headers. Same queue size, batches, limits and counters;
 *   any other exporter gets the `ReadableSpan`s as before.
 */
import type { Context } from '@opentelemetry/api';
import { envNumber } from '../sdk/env.js';
import { report } from '../sdk/report.js';
import {
  type ExportResult,
  ExportResultCode,
  type ReadableSpan,
  type SpanExporter,
  type SpanProcessor,
} from '../sdk/types.js';
import { type CountedExportResult, exportRecords } from './otlp-http-exporter.js';
import type { SpanRecords } from './otlp-proto.js';
import { type ArenaChunk, SpanArena } from './span-arena.js';

/** Options of {@link BatchSpanProcessor}. Options given in code win over `OTEL_BSP_*` variables. */
export interface BatchSpanProcessorOptions {
  /** Most spans held waiting for export; more are dropped and counted. `OTEL_BSP_MAX_QUEUE_SIZE`; default 2048. */
  maxQueueSize?: number;
  /** Most spans in one export; must be ≤ `maxQueueSize`. `OTEL_BSP_MAX_EXPORT_BATCH_SIZE`; default 512. */
  maxExportBatchSize?: number;
  /** Longest a span waits before its batch is exported, in ms. `OTEL_BSP_SCHEDULE_DELAY`; default 5000. */
  scheduledDelayMillis?: number;
  /** Longest one export may take before it counts as failed, in ms. `OTEL_BSP_EXPORT_TIMEOUT`; default 30000. */
  exportTimeoutMillis?: number;
  /** Most exports in flight at once. Default 2 (one encoding while one waits on the network). */
  maxConcurrentExports?: number;
  /** Environment to read `OTEL_BSP_*` from; defaults to `process.env`. */
  env?: Record<string, string | undefined>;
}

/** Counters of {@link BatchSpanProcessor}; `accepted = queued + exporting + exported + dropped + failed`. */
export interface BatchSpanProcessorStats {
  /** Sampled spans handed to `onEnd` (unsampled spans are ignored, not counted). */
  accepted: number;
  /** Spans waiting in the queue. */
  queued: number;
  /** Spans in exports that have not finished. */
  exporting: number;
  /** Spans the exporter reported as exported. */
  exported: number;
  /** Spans dropped because the queue was full, or because they ended after shutdown. */
  dropped: number;
  /** Spans in exports that failed or timed out. */
  failed: number;
}

const DEFAULTS = {
  maxQueueSize: 2048,
  maxExportBatchSize: 512,
  scheduledDelayMillis: 5000,
  exportTimeoutMillis: 30_000,
  maxConcurrentExports: 2,
};

function checkInt(name: string, v: unknown, min: number): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
    throw new TypeError(
      `BatchSpanProcessor: options.${name} must be an integer ≥ ${min}, got ${typeof v === 'number' ? v : typeof v}`,
    );
  }
  return v;
}

/**
 * Batches ended, sampled spans and hands them to an exporter, with a bounded queue and exact drop
 * accounting. Interface-compatible with the official SDK's `BatchSpanProcessor`.
 *
 * @example
 * ```ts
 * import { BatchSpanProcessor, OtlpHttpExporter } from '@tracewire/core';
 * const processor = new BatchSpanProcessor(new OtlpHttpExporter(), { maxQueueSize: 8192 });
 * // ... later
 * await processor.shutdown();
 * console.log(processor.stats()); // { accepted, queued, exporting, exported, dropped, failed }
 * ```
 */
export class BatchSpanProcessor implements SpanProcessor {
  readonly #exporter: SpanExporter;
  readonly #maxQueueSize: number;
  readonly #maxBatch: number;
  readonly #delay: number;
  readonly #exportTimeout: number;
  readonly #maxConcurrent: number;

  // Ring buffer: spans live in #ring[(#head + i) % size] for i < #count.
  readonly #ring: (ReadableSpan | undefined)[];
  // Encode on end (tracewire's protobuf exporter only): the same ring, holding encoded records.
  readonly #arena: SpanArena | undefined;
  readonly #recChunk: (ArenaChunk | undefined)[] = [];
  readonly #recOff: Int32Array = new Int32Array(0);
  readonly #recLen: Int32Array = new Int32Array(0);
  readonly #recResource: (ReadableSpan['resource'] | undefined)[] = [];
  readonly #recScope: (ReadableSpan['instrumentationScope'] | undefined)[] = [];
  #head = 0;
  #count = 0;

  #accepted = 0;
  #exported = 0;
  #dropped = 0;
  #failed = 0;
  #exporting = 0;
  /** Spans ever dequeued for export: a flush waits until this passes its target. */
  #dequeued = 0;

  #inFlight = 0;
  readonly #inFlightDone = new Set<Promise<void>>();
  #slotWaiters: (() => void)[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #immediate: ReturnType<typeof setImmediate> | undefined;
  #shutdown: Promise<void> | undefined;
  #isShutdown = false;

  constructor(exporter: SpanExporter, options: BatchSpanProcessorOptions = {}) {
    if (!exporter || typeof exporter.export !== 'function') {
      throw new TypeError('BatchSpanProcessor: exporter must be a SpanExporter (an object with export())');
    }
    if (options === null || typeof options !== 'object') {
      throw new TypeError('BatchSpanProcessor: options must be an object');
    }
    const env = options.env;
    const codeQueue = checkInt('maxQueueSize', options.maxQueueSize, 1);
    const codeBatch = checkInt('maxExportBatchSize', options.maxExportBatchSize, 1);
    const codeDelay = checkInt('scheduledDelayMillis', options.scheduledDelayMillis, 0);
    const codeTimeout = checkInt('exportTimeoutMillis', options.exportTimeoutMillis, 1);
    const codeConcurrent = checkInt('maxConcurrentExports', options.maxConcurrentExports, 1);
    if (codeQueue !== undefined && codeBatch !== undefined && codeBatch > codeQueue) {
      throw new TypeError(
        `BatchSpanProcessor: options.maxExportBatchSize (${codeBatch}) must be ≤ options.maxQueueSize (${codeQueue})`,
      );
    }
    const intOpts = { min: 1, integer: true };
    this.#maxQueueSize =
      codeQueue ?? envNumber('OTEL_BSP_MAX_QUEUE_SIZE', env, intOpts) ?? DEFAULTS.maxQueueSize;
    let batch =
      codeBatch ?? envNumber('OTEL_BSP_MAX_EXPORT_BATCH_SIZE', env, intOpts) ?? DEFAULTS.maxExportBatchSize;
    if (batch > this.#maxQueueSize) {
      if (codeBatch !== undefined) {
        throw new TypeError(
          `BatchSpanProcessor: options.maxExportBatchSize (${batch}) must be ≤ maxQueueSize (${this.#maxQueueSize})`,
        );
      }
      // Spec: the batch size must not exceed the queue size; an environment mismatch is clamped.
      report(
        'bsp:batch>queue',
        `maxExportBatchSize (${batch}) is larger than maxQueueSize (${this.#maxQueueSize}); using ${this.#maxQueueSize}`,
      );
      batch = this.#maxQueueSize;
    }
    this.#maxBatch = batch;
    this.#delay =
      codeDelay ??
      envNumber('OTEL_BSP_SCHEDULE_DELAY', env, { min: 0, integer: true }) ??
      DEFAULTS.scheduledDelayMillis;
    this.#exportTimeout =
      codeTimeout ?? envNumber('OTEL_BSP_EXPORT_TIMEOUT', env, intOpts) ?? DEFAULTS.exportTimeoutMillis;
    this.#maxConcurrent = codeConcurrent ?? DEFAULTS.maxConcurrentExports;
    this.#exporter = exporter;
    const recordsExporter = exporter as Partial<RecordsExporter>;
    if (typeof recordsExporter[exportRecords] === 'function' && recordsExporter.acceptsRecords === true) {
      const size = this.#maxQueueSize;
      this.#arena = new SpanArena();
      this.#ring = [];
      this.#recChunk = new Array(size).fill(undefined);
      this.#recOff = new Int32Array(size);
      this.#recLen = new Int32Array(size);
      this.#recResource = new Array(size).fill(undefined);
      this.#recScope = new Array(size).fill(undefined);
    } else {
      this.#arena = undefined;
      this.#ring = new Array(this.#maxQueueSize).fill(undefined);
    }
  }

  /** Spans dropped so far (queue full, or ended after shutdown). */
  get droppedSpans(): number {
    return this.#dropped;
  }

  /** The effective settings, after options, `OTEL_BSP_*` and defaults were combined. */
  get settings(): Readonly<Required<Omit<BatchSpanProcessorOptions, 'env'>>> {
    return {
      maxQueueSize: this.#maxQueueSize,
      maxExportBatchSize: this.#maxBatch,
      scheduledDelayMillis: this.#delay,
      exportTimeoutMillis: this.#exportTimeout,
      maxConcurrentExports: this.#maxConcurrent,
    };
  }

  /** A snapshot of the counters; `accepted = queued + exporting + exported + dropped + failed` always holds. */
  stats(): BatchSpanProcessorStats {
    return {
      accepted: this.#accepted,
      queued: this.#count,
      exporting: this.#exporting,
      exported: this.#exported,
      dropped: this.#dropped,
      failed: this.#failed,
    };
  }

  onStart(_span: unknown, _parentContext: Context): void {}

  onEnd(span: ReadableSpan): void {
    // Only sampled spans are exported (SDK spec, "Sampling": the exporter sees sampled spans only).
    let flags: number;
    try {
      flags = span.spanContext().traceFlags;
    } catch (err) {
      // Not a span we can read: ignore it rather than throw into the application's span.end().
      report(
        'bsp:bad-span',
        `onEnd got a span without a readable context: ${err instanceof Error ? err.message : err}`,
      );
      return;
    }
    if ((flags & 1) === 0) return;
    this.#accepted++;
    if (this.#isShutdown) {
      this.#dropped++;
      report('bsp:after-shutdown', 'a span ended after the batch processor was shut down; it was dropped');
      return;
    }
    const size = this.#maxQueueSize;
    if (this.#count === size) {
      this.#dropped++;
      report(
        'bsp:queue-full',
        `span queue full (maxQueueSize=${size}); dropping spans (${this.#dropped} dropped so far). ` +
          'Raise maxQueueSize / OTEL_BSP_MAX_QUEUE_SIZE or check the exporter.',
      );
      return;
    }
    let i = this.#head + this.#count;
    if (i >= size) i -= size;
    const arena = this.#arena;
    if (arena === undefined) {
      this.#ring[i] = span;
    } else {
      try {
        arena.append(span);
      } catch (err) {
        // An unencodable span (a throwing getter, say) is counted, never thrown into span.end().
        this.#failed++;
        report(
          'bsp:encode',
          `a span could not be encoded and was dropped: ${err instanceof Error ? err.message : err}`,
        );
        return;
      }
      this.#recChunk[i] = arena.chunk;
      this.#recOff[i] = arena.off;
      this.#recLen[i] = arena.len;
      this.#recResource[i] = span.resource;
      this.#recScope[i] =
        span.instrumentationScope ??
        (span as { instrumentationLibrary?: ReadableSpan['instrumentationScope'] }).instrumentationLibrary ??
        EMPTY_SCOPE;
    }
    this.#count++;
    if (this.#count >= this.#maxBatch) {
      // Export outside the caller's span.end(): a request should not pay for encoding a batch.
      if (this.#immediate === undefined && this.#inFlight < this.#maxConcurrent) {
        this.#immediate = setImmediate(this.#onImmediate);
      }
    } else if (this.#timer === undefined) {
      this.#startTimer();
    }
  }

  readonly #onImmediate = (): void => {
    this.#immediate = undefined;
    this.#pump();
  };

  #startTimer(): void {
    const t = setTimeout(() => {
      this.#timer = undefined;
      this.#pump(true);
    }, this.#delay);
    t.unref?.();
    this.#timer = t;
  }

  /** Start exports while slots are free: full batches, or (when `timerFired`) a partial one. */
  #pump(timerFired = false): void {
    while (this.#inFlight < this.#maxConcurrent && this.#count > 0) {
      if (this.#count < this.#maxBatch && !timerFired) break;
      this.#exportBatch();
      timerFired = this.#count > 0 && timerFired;
    }
    if (this.#count > 0 && this.#timer === undefined && this.#inFlight < this.#maxConcurrent) {
      this.#startTimer();
    }
  }

  /** Take up to one batch off the ring and export it; the caller made sure a slot is free. */
  #exportBatch(): Promise<void> {
    const n = Math.min(this.#count, this.#maxBatch);
    const size = this.#maxQueueSize;
    let h = this.#head;
    let batch: ReadableSpan[] | SpanRecords;
    if (this.#arena === undefined) {
      const spans: ReadableSpan[] = new Array(n);
      const ring = this.#ring;
      for (let i = 0; i < n; i++) {
        spans[i] = ring[h]!;
        ring[h] = undefined;
        if (++h === size) h = 0;
      }
      batch = spans;
    } else if (h + n <= size) {
      // The batch is one contiguous run of the ring: native slices copy it, then the slots are cleared.
      const end = h + n;
      batch = {
        length: n,
        chunk: this.#recChunk.slice(h, end) as ArenaChunk[],
        off: this.#recOff.slice(h, end),
        len: this.#recLen.slice(h, end),
        resource: this.#recResource.slice(h, end) as ReadableSpan['resource'][],
        scope: this.#recScope.slice(h, end) as ReadableSpan['instrumentationScope'][],
      };
      this.#recChunk.fill(undefined, h, end);
      this.#recResource.fill(undefined, h, end);
      this.#recScope.fill(undefined, h, end);
      h = end === size ? 0 : end;
    } else {
      const rec = {
        length: n,
        chunk: new Array<ArenaChunk>(n),
        off: new Int32Array(n),
        len: new Int32Array(n),
        resource: new Array<ReadableSpan['resource']>(n),
        scope: new Array<ReadableSpan['instrumentationScope']>(n),
      };
      for (let i = 0; i < n; i++) {
        rec.chunk[i] = this.#recChunk[h]!;
        rec.off[i] = this.#recOff[h]!;
        rec.len[i] = this.#recLen[h]!;
        rec.resource[i] = this.#recResource[h]!;
        rec.scope[i] = this.#recScope[h]!;
        this.#recChunk[h] = undefined;
        this.#recResource[h] = undefined;
        this.#recScope[h] = undefined;
        if (++h === size) h = 0;
      }
      batch = rec;
    }
    this.#head = h;
    this.#count -= n;
    this.#dequeued += n;
    this.#exporting += n;
    this.#inFlight++;
    const done = this.#runExport(batch).finally(() => {
      this.#inFlightDone.delete(done);
      this.#inFlight--;
      this.#slotWaiters.shift()?.();
      if (!this.#isShutdown || this.#count > 0) this.#pump();
    });
    this.#inFlightDone.add(done);
    return done;
  }

  /** One export with its deadline; settles (never rejects) once the spans are counted. */
  async #runExport(batch: ReadableSpan[] | SpanRecords): Promise<void> {
    const n = batch.length;
    const records = Array.isArray(batch) ? undefined : (batch as SpanRecords & { chunk: ArenaChunk[] });
    let result: ExportResult;
    try {
      await waitForResources(
        records === undefined ? (batch as ReadableSpan[]).map(resourceOf) : records.resource,
      );
      result = await new Promise<ExportResult>((resolve) => {
        const timer = setTimeout(() => {
          resolve({
            code: ExportResultCode.FAILED,
            error: new Error(`export timed out after ${this.#exportTimeout} ms`),
          });
        }, this.#exportTimeout);
        timer.unref?.();
        // Encoded records stay in use until the exporter calls back, even after a timeout here:
        // a split request may still copy them.
        let released = records === undefined;
        const release = () => {
          if (released) return;
          released = true;
          this.#releaseRecords(records!);
        };
        try {
          const cb = (r: ExportResult) => {
            release();
            clearTimeout(timer);
            resolve(r);
          };
          if (records === undefined) this.#exporter.export(batch as ReadableSpan[], cb);
          else (this.#exporter as unknown as RecordsExporter)[exportRecords](records, cb);
        } catch (err) {
          release();
          clearTimeout(timer);
          resolve({
            code: ExportResultCode.FAILED,
            error: err instanceof Error ? err : new Error(String(err)),
          });
        }
      });
    } catch (err) {
      result = { code: ExportResultCode.FAILED, error: err instanceof Error ? err : new Error(String(err)) };
    }
    this.#exporting -= n;
    const { exported, failed } = splitCounts(result, n);
    this.#exported += exported;
    this.#failed += failed;
    if (failed > 0) {
      report(
        'bsp:export-failed',
        `export of ${failed} of ${n} spans failed: ${result?.error?.message ?? 'unknown error'} (${this.#failed} spans failed so far)`,
      );
    }
  }

  /** The records of an export are done with: their chunks may be reused. */
  #releaseRecords(records: SpanRecords & { chunk: ArenaChunk[] }): void {
    const arena = this.#arena!;
    const chunks = records.chunk;
    let run: ArenaChunk | undefined;
    let count = 0;
    for (let i = 0; i < chunks.length; i++) {
      const c = chunks[i]!;
      if (c === run) {
        count++;
        continue;
      }
      if (run !== undefined) arena.release(run, count);
      run = c;
      count = 1;
    }
    if (run !== undefined) arena.release(run, count);
  }

  /** Resolves when an export slot is free. */
  #slot(): Promise<void> {
    if (this.#inFlight < this.#maxConcurrent) return Promise.resolve();
    return new Promise((resolve) => this.#slotWaiters.push(resolve));
  }

  /**
   * Exports every span queued at the time of the call, batch after batch, and waits for those
   * exports (and the exporter's own `forceFlush`). Never rejects: failures are counted and reported.
   */
  async forceFlush(): Promise<void> {
    const target = this.#dequeued + this.#count;
    const waits: Promise<void>[] = [...this.#inFlightDone];
    while (this.#dequeued < target) {
      await this.#slot();
      if (this.#dequeued >= target) break;
      if (this.#inFlight >= this.#maxConcurrent) continue; // another waiter took the slot
      if (this.#count === 0) break;
      waits.push(this.#exportBatch());
    }
    // Exports started meanwhile by the batch trigger may hold spans of the target too.
    for (const p of this.#inFlightDone) waits.push(p);
    await Promise.all(waits);
    try {
      await this.#exporter.forceFlush?.();
    } catch (err) {
      report('bsp:exporter-flush', `exporter.forceFlush failed: ${err instanceof Error ? err.message : err}`);
    }
  }

  /** Flushes, then shuts the exporter down. Idempotent; later spans are dropped and counted. */
  shutdown(): Promise<void> {
    if (this.#shutdown) return this.#shutdown;
    this.#isShutdown = true;
    this.#shutdown = (async () => {
      await this.forceFlush();
      if (this.#timer !== undefined) clearTimeout(this.#timer);
      if (this.#immediate !== undefined) clearImmediate(this.#immediate);
      this.#timer = undefined;
      this.#immediate = undefined;
      try {
        await this.#exporter.shutdown();
      } catch (err) {
        report(
          'bsp:exporter-shutdown',
          `exporter.shutdown failed: ${err instanceof Error ? err.message : err}`,
        );
      }
    })();
    return this.#shutdown;
  }
}

/**
 * How many spans of an export of `n` were delivered. tracewire's exporter says so precisely
 * (`spans`: split requests, partial success); any other exporter's result counts as all or nothing.
 */
export function splitCounts(
  result: ExportResult | undefined,
  n: number,
): { exported: number; failed: number } {
  const c = (result as CountedExportResult | undefined)?.spans;
  if (
    c &&
    Number.isInteger(c.exported) &&
    Number.isInteger(c.failed) &&
    c.exported + c.failed === n &&
    c.exported >= 0 &&
    c.failed >= 0
  ) {
    return c;
  }
  return result?.code === ExportResultCode.SUCCESS ? { exported: n, failed: 0 } : { exported: 0, failed: n };
}

/** What the processor needs of an exporter that takes encoded records (`OtlpHttpExporter`). */
interface RecordsExporter {
  /** False when the exporter would not send protobuf (JSON protocol). */
  readonly acceptsRecords: boolean;
  [exportRecords](records: SpanRecords, resultCallback: (result: ExportResult) => void): void;
}

const EMPTY_SCOPE: ReadableSpan['instrumentationScope'] = { name: '' };
const resourceOf = (s: ReadableSpan) => s.resource;

/** The official SDK waits for async resource attributes before exporting; so do we. */
async function waitForResources(resources: readonly ReadableSpan['resource'][]): Promise<void> {
  let pending: Promise<void>[] | undefined;
  let last: unknown;
  for (let i = 0; i < resources.length; i++) {
    const r = resources[i]!;
    if (r === last) continue;
    last = r;
    if (r?.asyncAttributesPending && r.waitForAsyncAttributes)
      (pending ??= []).push(r.waitForAsyncAttributes());
  }
  if (pending) await Promise.all(pending);
}

/**
 * Byte storage for spans encoded when they end (see `BatchSpanProcessor`, "encode on end").
 *
 * Why: a queue of span objects is the export pipeline's largest cost under load. Every queued span
 * (its object, attributes, context, ids, times: ~750 bytes of small heap objects) survives the
 * young-generation collections that run while it waits, so V8 copies it once or twice and then
 * promotes it; measured at ~2 µs of GC per queued span, more than encoding it. Encoded, the same
 * span is ~375 bytes in a large Buffer that the GC never traces, and the span object dies young.
 *
 * Records are appended to fixed-size chunks (a record never straddles two); a chunk is released
 * when every record in it has been exported (or failed) and is reused once. Memory stays bounded
 * by the processor's `maxQueueSize` (records) plus the exports in flight.
 */
import type { ReadableSpan } from '../sdk/types.js';
import { encodeSpanRecord, lastRecordTarget, type RecordChunk } from './otlp-proto.js';

const CHUNK_BYTES = 256 * 1024;
/** A record that would start with less room than this goes to a fresh chunk. */
const MIN_ROOM = 8 * 1024;
const MAX_FREE_CHUNKS = 2;

/** A chunk of records and how many of them are still queued or exporting. */
export interface ArenaChunk extends RecordChunk {
  live: number;
}

export class SpanArena {
  #cur: ArenaChunk = newChunk();
  #pos = 0;
  readonly #free: ArenaChunk[] = [];

  /** The chunk, offset and length of the record written by the last successful {@link append}. */
  chunk: ArenaChunk = this.#cur;
  off = 0;
  len = 0;

  #busy = false;

  /** Encode `span` as a record (throws what the encoder throws; nothing is kept then). */
  append(span: ReadableSpan): void {
    // A span whose getters end another span would write over the record being written.
    if (this.#busy) throw new Error('a span ended while another span was being encoded');
    this.#busy = true;
    try {
      this.#append(span);
    } finally {
      this.#busy = false;
    }
  }

  #append(span: ReadableSpan): void {
    let cur = this.#cur;
    if (cur.buf.length - this.#pos < MIN_ROOM) {
      const full = cur;
      cur = this.#free.pop() ?? newChunk();
      cur.live = 0;
      this.#cur = cur;
      this.#pos = 0;
      if (full.live === 0) this.#recycle(full);
    }
    const at = this.#pos;
    const end = encodeSpanRecord(span, cur.buf, at);
    // A span larger than the room left grows the chunk (the encoder copies it into a larger buffer).
    cur.buf = lastRecordTarget();
    this.#pos = end;
    cur.live++;
    this.chunk = cur;
    this.off = at;
    this.len = end - at;
  }

  /** `count` records of `chunk` are done with: exported, failed or dropped. */
  release(chunk: ArenaChunk, count: number): void {
    chunk.live -= count;
    if (chunk.live === 0 && chunk !== this.#cur) this.#recycle(chunk);
  }

  #recycle(chunk: ArenaChunk): void {
    // Only standard-size chunks are kept: one that grew for a huge span is left to the GC.
    if (this.#free.length < MAX_FREE_CHUNKS && chunk.buf.length === CHUNK_BYTES) this.#free.push(chunk);
  }
}

function newChunk(): ArenaChunk {
  return { buf: Buffer.allocUnsafeSlow(CHUNK_BYTES), live: 0 };
}

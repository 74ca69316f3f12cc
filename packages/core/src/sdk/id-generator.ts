/**
 * Trace and span ids from a cryptographically secure source (W3C Trace Context Level 2, "random"
 * trace-flag: a trace id we generate is random enough that the `random` flag may be set on it).
 *
 * `crypto.randomFillSync` is called once per 8 KiB (about 340 trace+span id pairs), and the block
 * is hex-encoded 256 bytes at a time; an id is then a substring of that section, which costs about
 * a third of encoding each id on its own (Node 24: ~42 ns against ~130 ns per trace+span id pair).
 *
 * Why sections and not the whole block: V8 makes a substring of 13 characters or more a slice that
 * keeps its parent string alive. A request's context outlives the request (Node's keep-alive timer
 * on an idle connection holds it), so with the whole 8 KiB block as one 16 KiB hex string, each
 * idle connection kept 16 KiB alive through its last request's ids, and the young generation
 * promoted it to old space: 139 KB/s against 51 KB/s with 512-character sections (Fastify, Node 24,
 * 15,000 req/s, sampling off; docs/performance.md, "Sixth pass"). Old space fills that much
 * faster, and each mark-compact stalls the event loop.
 */
import { randomFillSync } from 'node:crypto';

/** The official SDK's `IdGenerator` interface. */
export interface IdGenerator {
  /** 32 lowercase hex characters, not all zero. */
  generateTraceId(): string;
  /** 16 lowercase hex characters, not all zero. */
  generateSpanId(): string;
}

const POOL_BYTES = 8192;
/** Bytes hex-encoded at a time: the largest string an id can keep alive is twice this. */
const SECTION_BYTES = 256;
const ZERO_TRACE_ID = '00000000000000000000000000000000';
const ZERO_SPAN_ID = '0000000000000000';

function viewOf(b: Buffer): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

/**
 * Generates random ids from a pooled, cryptographically secure random block.
 *
 * @example
 * ```ts
 * const ids = new RandomIdGenerator();
 * ids.generateTraceId(); // '4bf92f3577b34da6a3ce929d0e0e4736'
 * ```
 */
export class RandomIdGenerator implements IdGenerator {
  #bytes = Buffer.allocUnsafeSlow(POOL_BYTES);
  #view = viewOf(this.#bytes);
  /** Byte offset of the section `#hex` encodes; `POOL_BYTES` before the first block is drawn. */
  #section = POOL_BYTES;
  #hex = '';
  #offset = 0;
  /**
   * @internal The random bytes the last id was taken from, and where (a byte offset): the OTLP
   * encoder copies an id's bytes from here, four at a time, instead of parsing its hex. A block is
   * never refilled, a new one is allocated, so the bytes stay valid for as long as a span holds
   * them. A DataView, made once per block, so that the encoder needs no view of its own per span.
   */
  lastBlock: DataView = this.#view;
  lastOffset = 0;

  #take(chars: number): string {
    if (this.#offset + chars > this.#hex.length) this.#nextSection();
    const id = this.#hex.substring(this.#offset, this.#offset + chars);
    this.lastBlock = this.#view;
    this.lastOffset = this.#section + (this.#offset >>> 1);
    this.#offset += chars;
    return id;
  }

  /** The next 256 bytes as hex (the rest of a section too short for an id is skipped). */
  #nextSection(): void {
    let section = this.#section + SECTION_BYTES;
    if (section >= POOL_BYTES) {
      this.#bytes = Buffer.allocUnsafeSlow(POOL_BYTES);
      randomFillSync(this.#bytes);
      this.#view = viewOf(this.#bytes);
      section = 0;
    }
    this.#section = section;
    this.#hex = this.#bytes.toString('hex', section, section + SECTION_BYTES);
    this.#offset = 0;
  }

  generateTraceId(): string {
    let id = this.#take(32);
    // An all-zero id is invalid (W3C Trace Context, "trace-id"); 2^-128, but never emit one. The
    // first character is looked at first: comparing a substring with a constant is a runtime call
    // (~200 instructions per id, callgrind), a character read is not.
    while (id.charCodeAt(0) === 48 && id === ZERO_TRACE_ID) id = this.#take(32);
    return id;
  }

  generateSpanId(): string {
    let id = this.#take(16);
    while (id.charCodeAt(0) === 48 && id === ZERO_SPAN_ID) id = this.#take(16);
    return id;
  }
}

import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it, vi } from 'vitest';

// The random source is real except where a test asks for zero bytes at the start of the next block:
// an all-zero id must never be handed out, whatever the source returns.
const zeroPrefix = vi.hoisted(() => ({ bytes: 0 }));
vi.mock('node:crypto', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:crypto')>();
  return {
    ...real,
    randomFillSync: (buf: Buffer) => {
      real.randomFillSync(buf);
      buf.fill(0, 0, zeroPrefix.bytes);
      zeroPrefix.bytes = 0;
      return buf;
    },
  };
});

const { RandomIdGenerator } = await import('./id-generator.js');

describe('RandomIdGenerator', () => {
  it('makes lowercase hex ids of 32 and 16 characters, unique across block refills', () => {
    const ids = new RandomIdGenerator();
    const seen = new Set<string>();
    // 2,000 pairs: about six 8 KiB blocks.
    for (let i = 0; i < 2000; i++) {
      const t = ids.generateTraceId();
      const s = ids.generateSpanId();
      expect(t).toMatch(/^[0-9a-f]{32}$/);
      expect(s).toMatch(/^[0-9a-f]{16}$/);
      seen.add(t).add(s);
    }
    expect(seen.size).toBe(4000);
  });

  it('records where the last id came from, so the encoder can copy its bytes', () => {
    const ids = new RandomIdGenerator();
    const hexAt = (n: number): string => {
      const v = ids.lastBlock;
      return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString(
        'hex',
        ids.lastOffset,
        ids.lastOffset + n,
      );
    };
    const blocks = new Set<ArrayBufferLike>();
    // 700 pairs span three 8 KiB blocks: each new block gets its own view.
    for (let i = 0; i < 700; i++) {
      const t = ids.generateTraceId();
      expect(hexAt(16)).toBe(t);
      const s = ids.generateSpanId();
      expect(hexAt(8)).toBe(s);
      blocks.add(ids.lastBlock.buffer);
    }
    expect(blocks.size).toBe(3);
  });

  it('an id kept alive keeps little memory alive (not the 16 KiB hex string of its whole block)', () => {
    // A request's ids outlive it (an idle keep-alive connection's timer holds its last request's
    // context), and V8 makes a substring a slice that keeps its parent string alive: a kept id must
    // not pin the hex of a whole 8 KiB block.
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const ids = new RandomIdGenerator();
    const kept: string[] = [];
    gc();
    gc();
    const before = process.memoryUsage().heapUsed;
    // One trace id kept per block's worth of ids (340 trace+span id pairs), for 500 blocks.
    for (let b = 0; b < 500; b++) {
      kept.push(ids.generateTraceId());
      for (let i = 0; i < 340; i++) {
        ids.generateTraceId();
        ids.generateSpanId();
      }
    }
    gc();
    gc();
    const perKeptId = (process.memoryUsage().heapUsed - before) / kept.length;
    expect(new Set(kept).size).toBe(500);
    // A whole block's hex is 16 KiB (~17 KB per kept id measured); a 256-byte section's is 512
    // characters (0.2–0.5 KB measured over 500 kept ids; the heap moves by some 100 KB on its own).
    expect(perKeptId).toBeLessThan(4096);
  });

  it('never returns an all-zero trace id or span id (W3C: invalid), even when the random bytes are zero', () => {
    const ids = new RandomIdGenerator();
    // Zero bytes where the first trace id of the first block would come from.
    zeroPrefix.bytes = 16;
    const t = ids.generateTraceId();
    expect(t).not.toBe('0'.repeat(32));
    expect(t).toMatch(/^[0-9a-f]{32}$/);
    expect(ids.lastOffset).toBe(16);

    // Exhaust the block, then zero the first 8 bytes of the next one: the span id skips them.
    const spare = new RandomIdGenerator();
    for (let i = 0; i < 1024; i++) spare.generateSpanId();
    zeroPrefix.bytes = 8;
    const s = spare.generateSpanId();
    expect(s).not.toBe('0'.repeat(16));
    expect(s).toMatch(/^[0-9a-f]{16}$/);
    expect(spare.lastOffset).toBe(8);
  });
});

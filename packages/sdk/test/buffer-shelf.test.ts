/** The per-thread shelf of scratch buffers: what take() gives back, and what the shelf keeps. */
import { describe, expect, it } from 'vitest';
import { BufferShelf } from '@picompute/sdk/buffer-shelf';

describe('BufferShelf', () => {
  it('gives back the smallest kept buffer that fits, else a new one', () => {
    const shelf = new BufferShelf(1024 * 1024);
    const small = Buffer.alloc(1000);
    const big = Buffer.alloc(5000);
    const middle = Buffer.alloc(3000);
    for (const b of [big, small, middle]) shelf.give(b);
    expect(shelf.bytes).toBe(9000);
    expect(shelf.take(2000)).toBe(middle);
    expect(shelf.take(10)).toBe(small);
    const fresh = shelf.take(6000);
    expect(fresh).not.toBe(big);
    expect(fresh.length).toBe(6000);
    expect(shelf.take(4000)).toBe(big);
    expect(shelf.bytes).toBe(0);
  });

  it('keeps no more than its limit, and nothing empty', () => {
    const shelf = new BufferShelf(4096);
    shelf.give(Buffer.alloc(3000));
    shelf.give(Buffer.alloc(2000)); // would pass the limit: left to the collector
    shelf.give(Buffer.alloc(0));
    shelf.give(undefined);
    expect(shelf.bytes).toBe(3000);
    expect(shelf.take(2000).length).toBe(3000);
    expect(shelf.take(1).length).toBe(1);
  });
});

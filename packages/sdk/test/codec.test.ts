import { describe, expect, it } from 'vitest';
import { CODEC_VERSION, decode, encode } from '../src/codec.js';
import { FramePacker, packFrames, unpackFrames } from '../src/framing.js';

describe('codec', () => {
  it('round-trips every value kind the job API promises', () => {
    const value = {
      n: 1.5,
      neg: -0,
      s: 'π ✓',
      t: true,
      nil: null,
      arr: [1, [2, 'x']],
      map: new Map<unknown, unknown>([
        ['a', 1],
        [2, new Set([3])],
      ]),
      set: new Set(['x', 'y']),
      date: new Date(1_700_000_000_123),
      big: -(2n ** 80n),
      f64: new Float64Array([0.1, NaN]),
      u8: new Uint8Array([1, 255]),
      i32: new Int32Array([-5]),
      buf: Buffer.from('hello'),
    };
    const back = decode<typeof value>(encode(value));
    expect(back).toEqual(value);
    expect(Object.is(back.neg, -0)).toBe(true);
    expect(Buffer.isBuffer(back.buf)).toBe(true);
    expect(back.f64).toBeInstanceOf(Float64Array);
    expect(back.map.get(2)).toBeInstanceOf(Set);
  });

  it('keeps lone numbers and strings exact on their fast path', () => {
    for (const n of [0, -0, 1.5, -1e308, NaN, Infinity, 2 ** 53 + 2]) expect(Object.is(decode(encode(n)), n)).toBe(true);
    for (const s of ['', 'x', 'π ✓ 𝄞', 'a'.repeat(256), 'b'.repeat(5000)]) expect(decode(encode(s))).toBe(s);
    expect(encode(7)).toHaveLength(9);
    expect(decode(new Uint8Array(encode('hi')))).toBe('hi');
  });

  it('says what cannot be encoded', () => {
    expect(() => encode({ f: () => 1 })).toThrow(/cannot encode value: .*structured-cloneable/);
  });

  it('refuses bytes that are not a codec value', () => {
    expect(() => decode(Buffer.from('hello'))).toThrow(/do not start with the codec's header/);
    expect(() => decode(Buffer.from([0xff, CODEC_VERSION, 0x6f, 0x22]))).toThrow(/cannot decode value/);
  });

  it('names both versions when a newer Node wrote the value', () => {
    const bytes = encode({ n: 42 });
    bytes[1] = CODEC_VERSION + 1;
    expect(() => decode(bytes)).toThrow(new RegExp(`format ${CODEC_VERSION + 1} by a newer Node.js than this one`));
  });
});

describe('framing', () => {
  it('packs and splits frames, empty ones included', () => {
    const frames = [Buffer.from('a'), Buffer.alloc(0), Buffer.from('xyz')];
    expect(unpackFrames(packFrames(frames)).map(String)).toEqual(['a', '', 'xyz']);
    expect(unpackFrames(Buffer.alloc(0))).toEqual([]);
  });

  it('uploads in chunks with large frames alone, and splits the chunks back without copying them', () => {
    const frames = [Buffer.from('a'), Buffer.alloc(300, 1), Buffer.from('bc'), Buffer.alloc(2500, 2), Buffer.alloc(0), Buffer.from('end')];
    const packer = new FramePacker(1000);
    for (const f of frames) packer.add(f);
    const chunks = packer.finish();
    expect(chunks.every((c) => c.length <= 1000)).toBe(true);
    expect(Buffer.concat(chunks)).toEqual(packFrames(frames));
    const back = unpackFrames(chunks);
    expect(back).toEqual(frames);
    // The 300-byte frame went alone, so it comes back as a view of its chunk.
    expect(chunks.some((c) => c.buffer === back[1]!.buffer)).toBe(true);
  });

  it('packs a frame of 64 KiB or more alone, uncopied, between chunks of small ones', () => {
    const big = Buffer.alloc(64 * 1024, 7);
    const frames = [Buffer.from('a'), Buffer.from('b'), big, Buffer.alloc(64 * 1024 - 1, 8), Buffer.from('end')];
    const packer = new FramePacker(8 << 20);
    for (const f of frames) packer.add(f);
    const chunks = packer.finish();
    expect(Buffer.concat(chunks)).toEqual(packFrames(frames));
    expect(unpackFrames(chunks)).toEqual(frames);
    // The 64 KiB frame is the caller's own bytes; the one a byte smaller was copied in with the small ones.
    expect(chunks.filter((c) => c.buffer === big.buffer)).toHaveLength(1);
    expect(chunks.map((c) => c.length)).toEqual([10, 4, 64 * 1024, 64 * 1024 - 1 + 4 + 7]);
  });

  it('refuses a blob cut short', () => {
    const packed = packFrames([Buffer.from('hello')]);
    expect(() => unpackFrames(packed.subarray(0, 6))).toThrow(/claims 5 bytes, 2 left/);
    expect(() => unpackFrames(packed.subarray(0, 2))).toThrow(/2 stray bytes/);
  });
});

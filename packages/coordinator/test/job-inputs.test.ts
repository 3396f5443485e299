/** Job inputs kept packed: each input read back exactly, whether it lies in one part or spans parts. */
import { describe, expect, it } from 'vitest';
import { FramePacker, packFrames } from '@picompute/sdk/framing';
import { JobInputs } from '../src/job-inputs.js';
import { PendingQueue } from '../src/pending-queue.js';

const frames = Array.from({ length: 300 }, (_, i) => Buffer.alloc(i % 17 === 0 ? 3000 : i % 5, i));

describe('JobInputs', () => {
  it('reads back every frame from one packed buffer and from parts cut anywhere', () => {
    const packed = packFrames(frames);
    for (const cut of [[packed], [packed.subarray(0, 7), packed.subarray(7, 5001), packed.subarray(5001)]]) {
      const inputs = JobInputs.unpack(cut);
      expect(inputs.count).toBe(300);
      for (const [i, f] of frames.entries()) expect(inputs.get(i)).toEqual(f);
    }
  });

  it('reads back what the SDK packer makes (big frames alone, split into chunks)', () => {
    const packer = new FramePacker(4096);
    for (const f of frames) packer.add(f);
    const inputs = JobInputs.unpack(packer.finish());
    for (const [i, f] of frames.entries()) expect(inputs.get(i)).toEqual(f);
  });

  it('refuses bytes that are not whole frames, saying where', () => {
    expect(() => JobInputs.unpack([Buffer.from([0, 0, 0, 9, 1, 2])])).toThrow('malformed frame blob: frame at offset 0 claims 9 bytes, 2 left');
    expect(() => JobInputs.unpack([Buffer.from([0, 0])])).toThrow('malformed frame blob: 2 stray bytes at offset 0');
  });

  it('keeps inputs read back one by one (after a restart) in one buffer', () => {
    const inputs = JobInputs.fromFrames(frames);
    for (const [i, f] of frames.entries()) expect(inputs.get(i)).toEqual(f);
  });
});

describe('PendingQueue', () => {
  it('hands out indices in order, skips done ones, and queues re-runs behind', () => {
    const done = new Set([1, 3]);
    const q = new PendingQueue(6, (i) => done.has(i), 2);
    expect(q.length).toBe(4);
    expect(q.take(2)).toEqual([0, 2]);
    q.push(0);
    expect(q.length).toBe(3);
    expect(q.take(10)).toEqual([4, 5, 0]);
    expect(q.length).toBe(0);
  });
});

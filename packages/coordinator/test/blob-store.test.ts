/** The coordinator's blob store: content-addressed bundles are checked, one-time uploads are taken once or dropped when abandoned. */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { BlobStore } from '../src/blob-store.js';

const UPLOAD = (n: number) => `upload:${String(n).padStart(32, '0')}`;

describe('BlobStore', () => {
  it('keeps a bundle under its sha256 and refuses bytes that do not match the name', () => {
    const blobs = new BlobStore();
    const bytes = Buffer.from('export default 1;');
    const hash = createHash('sha256').update(bytes).digest('hex');
    blobs.put(hash, [bytes.subarray(0, 5), bytes.subarray(5)]);
    expect(blobs.get(hash)).toEqual(bytes);
    expect(() => blobs.put(hash, [Buffer.from('export default 2;')])).toThrow(/has sha256 \w+…: refused/);
  });

  it('hands an upload over once, as the chunks it arrived in', () => {
    const blobs = new BlobStore();
    const parts = [Buffer.from('a'), Buffer.from('bc')];
    blobs.put(UPLOAD(1), parts);
    expect(blobs.take(UPLOAD(1))).toBe(parts);
    expect(blobs.take(UPLOAD(1))).toBeUndefined();
  });

  it('drops uploads nobody submitted within the time to live, and only those', () => {
    let now = 0;
    const blobs = new BlobStore(60_000, () => now);
    blobs.put(UPLOAD(1), [Buffer.alloc(1000)]);
    now = 30_000;
    blobs.put(UPLOAD(2), [Buffer.alloc(10)]);
    expect(blobs.waiting).toEqual({ uploads: 2, bytes: 1010 });
    now = 61_000;
    blobs.put(UPLOAD(3), [Buffer.alloc(1)]);
    expect(blobs.waiting).toEqual({ uploads: 2, bytes: 11 });
    expect(blobs.take(UPLOAD(1))).toBeUndefined();
    expect(blobs.take(UPLOAD(2))).toHaveLength(1);
  });
});

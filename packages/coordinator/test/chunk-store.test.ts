/**
 * The coordinator's input chunk store and the pending queue's hold: chunks
 * checked against their names, kept across a restart, the unused ones
 * dropped least recently used first past the cap (never a pinned one); held
 * tasks run once released, in their turn or behind.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ChunkStore } from '../src/chunk-store.js';
import { PendingQueue } from '../src/pending-queue.js';
import { UploadQuota } from '../src/upload-spill.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const bytes = (n: number, fill: number) => Buffer.alloc(n, fill);

async function send(store: ChunkStore, data: Buffer, name = sha(data), user = 'ann'): Promise<void> {
  const r = store.receive(name, user, (err) => {
    throw err;
  });
  r.write(data.subarray(0, 10));
  r.write(data.subarray(10));
  await r.finish();
}

describe('chunk store', () => {
  it('keeps a chunk under its hash, refuses bytes that do not match the name, and says when one lands', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'picompute-chunks-')), 'chunks');
    const quota = new UploadQuota(1000);
    const store = new ChunkStore(dir, 1000, quota);
    const landed: string[] = [];
    store.onArrived = (h) => landed.push(h);
    const a = bytes(100, 1);
    await send(store, a);
    expect(store.has(sha(a))).toBe(true);
    expect(landed).toEqual([sha(a)]);
    expect(quota.held('ann')).toBe(0);
    await expect(send(store, bytes(100, 2), sha(a).replace(/^./, 'f'))).rejects.toThrow(/has sha256 [0-9a-f]{12}…: refused/);
    expect(() => store.receive('../../etc/passwd', 'ann', () => {})).toThrow('is not a sha256 hash');
    // Nothing half-written left behind, and the quota share of the refused one is back.
    expect(readdirSync(dir)).toEqual([sha(a)]);
    expect(quota.held('ann')).toBe(0);
    // A new process finds it, and drops what a dead one left half-received.
    writeFileSync(join(dir, `${sha(a)}.123.tmp`), 'half');
    const again = new ChunkStore(dir, 1000, quota);
    expect(again.has(sha(a))).toBe(true);
    expect(readdirSync(dir)).toEqual([sha(a)]);
  });

  it('drops unpinned chunks least recently used first past its cap, never a pinned one', async () => {
    const store = new ChunkStore(join(mkdtempSync(join(tmpdir(), 'picompute-chunks-')), 'chunks'), 250, new UploadQuota(10_000));
    const [a, b, c, d] = [1, 2, 3, 4].map((f) => bytes(100, f));
    await send(store, a!);
    store.pin(sha(a!));
    await send(store, b!);
    await send(store, c!);
    // a is pinned: b, the least recently used of the others, goes.
    expect([a, b, c].map((x) => store.has(sha(x!)))).toEqual([true, false, true]);
    store.unpin(sha(a!));
    store.put(sha(d!), [d!.subarray(0, 50), d!.subarray(50)]);
    expect([a, c, d].map((x) => store.has(sha(x!)))).toEqual([false, true, true]);
    expect(store.bytes).toBe(200);
  });
});

describe('chunk store, in process', () => {
  it('hashes what a caller hands over, unless it says it checked the bytes against the name itself (the embedded client does, as it reads)', () => {
    const store = new ChunkStore(join(mkdtempSync(join(tmpdir(), 'picompute-chunks-')), 'chunks'), 10_000, new UploadQuota(10_000));
    const data = bytes(100, 7);
    const wrongName = sha(bytes(100, 8));
    expect(() => store.put(wrongName, [data])).toThrow(/has sha256 [0-9a-f]{12}…: refused/);
    expect(store.has(wrongName)).toBe(false);
    store.put(sha(data), [data.subarray(0, 30), data.subarray(30)], true);
    expect(store.has(sha(data))).toBe(true);
    expect(store.bytes).toBe(100);
  });
});

describe('chunk store promises', () => {
  it('keeps a chunk a client was just told is there, though nothing pins it yet', async () => {
    const store = new ChunkStore(join(mkdtempSync(join(tmpdir(), 'picompute-chunks-')), 'chunks'), 150, new UploadQuota(10_000));
    const [a, b] = [1, 2].map((f) => bytes(100, f));
    await send(store, a!);
    expect(store.missing([sha(a!), sha(b!)])).toEqual([sha(b!)]);
    await send(store, b!);
    // Over the cap, and a is the least recently used: still kept, its submit is on the way.
    expect(store.has(sha(a!))).toBe(true);
  });
});

describe('pending queue hold', () => {
  it('hands out held tasks only once released: in their turn, or behind if the cursor passed them', () => {
    const q = new PendingQueue(6);
    q.hold([1, 4]);
    expect(q.length).toBe(4);
    expect(q.take(2)).toEqual([0, 2]);
    q.release(1);
    q.release(4);
    expect(q.length).toBe(4);
    expect(q.take(10)).toEqual([3, 4, 5, 1]);
    expect(q.length).toBe(0);
  });
});

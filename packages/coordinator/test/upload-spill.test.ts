/** Spilled uploads: a file per upload, taken once, dropped with its quota share when nobody submits it. */
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BlobStore } from '../src/blob-store.js';
import { uploadDir } from '../src/upload-spill.js';

const UPLOAD = (n: number) => `upload:${String(n).padStart(32, '0')}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function upload(blobs: BlobStore, name: string, user: string, parts: Buffer[]): Promise<void> {
  const r = blobs.receive(name, user, (err) => {
    throw err;
  });
  for (const p of parts) r.write(p);
  await r.finish();
}

describe('spilled uploads', () => {
  it('hands an upload over once, from its file, and frees its share of the quota', async () => {
    const dir = uploadDir(mkdtempSync(join(tmpdir(), 'picompute-spill-')));
    const blobs = new BlobStore(60_000, Date.now, { dir, quotaBytes: 1000 });
    await upload(blobs, UPLOAD(1), 'ann', [Buffer.from('abc'), Buffer.from('de')]);
    expect(blobs.heldBy('ann')).toBe(5);
    expect(readdirSync(dir)).toHaveLength(1);
    expect(Buffer.concat(blobs.take(UPLOAD(1))!).toString()).toBe('abcde');
    expect(blobs.take(UPLOAD(1))).toBeUndefined();
    expect(blobs.heldBy('ann')).toBe(0);
    expect(readdirSync(dir)).toEqual([]);
    blobs.close();
  });

  it('drops an upload nobody submits within its time to live, even when no other upload comes', async () => {
    const dir = uploadDir(mkdtempSync(join(tmpdir(), 'picompute-spill-')));
    const blobs = new BlobStore(100, Date.now, { dir, quotaBytes: 1000 });
    await upload(blobs, UPLOAD(2), 'ann', [Buffer.alloc(600)]);
    for (let i = 0; i < 100 && readdirSync(dir).length; i++) await sleep(50);
    expect(readdirSync(dir)).toEqual([]);
    expect(blobs.heldBy('ann')).toBe(0);
    blobs.close();
  });

  it('empties the upload dir at start: no submit can come for a previous process’s uploads', async () => {
    const state = mkdtempSync(join(tmpdir(), 'picompute-spill-'));
    const blobs = new BlobStore(60_000, Date.now, { dir: uploadDir(state), quotaBytes: 1000 });
    await upload(blobs, UPLOAD(3), 'ann', [Buffer.alloc(10)]);
    expect(readdirSync(uploadDir(state))).toEqual([]);
    blobs.close();
  });
});

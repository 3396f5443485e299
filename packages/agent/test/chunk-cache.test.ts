/**
 * The agent's input chunk cache: a chunk fetched once however many tasks
 * ask at the same time, checked against its name, dropped least recently
 * used first past the cap but never while a task uses it; in the
 * coordinator's own process, linked from its store instead of sent.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ChunkCache } from '../src/chunk-cache.js';
import type { ChunkFetch } from '../src/chunk-cache.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const served =
  (data: Buffer, counter: { n: number }): ChunkFetch =>
  async (piece) => {
    counter.n++;
    await new Promise((r) => setTimeout(r, 5));
    piece(data.subarray(0, 7));
    piece(data.subarray(7));
  };

describe('agent chunk cache', () => {
  it('fetches a chunk once for tasks that ask together, and serves later ones from disk', async () => {
    const cache = new ChunkCache(mkdtempSync(join(tmpdir(), 'picompute-cache-')), 1000);
    const data = Buffer.alloc(100, 3);
    const fetched = { n: 0 };
    const paths = await Promise.all([1, 2, 3].map(() => cache.acquire(sha(data), served(data, fetched))));
    expect(fetched.n).toBe(1);
    expect(readFileSync(paths[0]!)).toEqual(data);
    for (const _ of paths) cache.release(sha(data));
    await cache.acquire(sha(data), served(data, fetched));
    expect(fetched.n).toBe(1);
    expect(cache.fetches).toBe(1);
  });

  it('refuses bytes that do not match the name, leaving nothing behind', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'picompute-cache-'));
    const cache = new ChunkCache(dir, 1000);
    const wrong = served(Buffer.alloc(100, 4), { n: 0 });
    await expect(cache.acquire(sha(Buffer.alloc(100, 5)), wrong)).rejects.toThrow(/arrived with sha256 [0-9a-f]{12}…: refused/);
    expect(readdirSync(dir)).toEqual([]);
  });

  it("links the coordinator's own file when it is in this process, and fetches when that file is gone", async () => {
    const store = mkdtempSync(join(tmpdir(), 'picompute-store-'));
    const [a, b] = [Buffer.alloc(100, 6), Buffer.alloc(100, 7)];
    writeFileSync(join(store, sha(a)), a);
    const local = (hash: string) => join(store, hash);
    const cache = new ChunkCache(mkdtempSync(join(tmpdir(), 'picompute-cache-')), 1000, undefined, local);
    const n = { n: 0 };
    const path = await cache.acquire(sha(a), served(a, n));
    // The same file, not a copy: nothing was fetched, and the bytes are the store's.
    expect(statSync(path).ino).toBe(statSync(join(store, sha(a))).ino);
    expect(readFileSync(path)).toEqual(a);
    expect([n.n, cache.links, cache.fetches, cache.bytes]).toEqual([0, 1, 0, 100]);
    // b is not in the store (dropped from it a moment ago, say): fetched as from any coordinator.
    const other = await cache.acquire(sha(b), served(b, n));
    expect(readFileSync(other)).toEqual(b);
    expect([n.n, cache.links, cache.fetches]).toEqual([1, 1, 1]);
    // The store dropping its copy leaves the cache's link whole.
    rmSync(join(store, sha(a)));
    expect(readFileSync(path)).toEqual(a);
    expect(readdirSync(cache.dir).sort()).toEqual([sha(a), sha(b)].sort());
  });

  it('past its cap drops the least recently used chunk no task holds', async () => {
    const cache = new ChunkCache(mkdtempSync(join(tmpdir(), 'picompute-cache-')), 250);
    const [a, b, c] = [1, 2, 3].map((f) => Buffer.alloc(100, f));
    const n = { n: 0 };
    await cache.acquire(sha(a!), served(a!, n));
    await cache.acquire(sha(b!), served(b!, n));
    cache.release(sha(b!));
    // a is in use, b is not: c pushes b out.
    await cache.acquire(sha(c!), served(c!, n));
    expect(readdirSync(cache.dir).sort()).toEqual([sha(a!), sha(c!)].sort());
    // Both in use now: the cache stands over its cap rather than drop one.
    await cache.acquire(sha(b!), served(b!, n));
    expect(cache.bytes).toBe(300);
    cache.release(sha(a!));
    expect(readdirSync(cache.dir).sort()).toEqual([sha(b!), sha(c!)].sort());
  });
});

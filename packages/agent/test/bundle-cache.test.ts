import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sha256 } from '@picompute/sdk/bundle';
import { BundleCache } from '../src/bundle-cache.js';

describe('bundle cache', () => {
  it('fetches a bundle once however many tasks ask at the same time', async () => {
    const cache = new BundleCache(await mkdtemp(join(tmpdir(), 'picompute-bc-')));
    const code = Buffer.from('export default 1;\n');
    let fetches = 0;
    const fetch = async () => (fetches++, code);
    const paths = await Promise.all([1, 2, 3].map(() => cache.ensure(sha256(code), fetch)));
    expect(new Set(paths).size).toBe(1);
    expect(fetches).toBe(1);
    expect(await readdir(cache.dir)).toEqual([`${sha256(code)}.mjs`]);
  });

  it('refuses bytes that do not match the name, and writes nothing', async () => {
    const cache = new BundleCache(await mkdtemp(join(tmpdir(), 'picompute-bc-')));
    const name = sha256(Buffer.from('the real code'));
    await expect(cache.ensure(name, async () => Buffer.from('evil code'))).rejects.toThrow(/arrived with sha256 \w{12}: refused/);
    await expect(cache.ensure('../../etc/passwd', async () => Buffer.alloc(0))).rejects.toThrow('is not a sha256 hash');
    expect(await readdir(cache.dir)).toEqual([]);
  });
});

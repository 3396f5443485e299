/**
 * How `--input` files are cut into map inputs: each chunk ends at the first
 * line break at or past the split size (a longer line stays whole), the last
 * one holds the rest, split size 0 is the whole file, an empty file is one
 * empty chunk, and a NUL byte in a file's first 8,000 bytes refuses it.
 * Checked against that plain definition on files made to hit every edge,
 * lines longer than the read-ahead among them.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fileChunks } from '../src/file-inputs.js';

const dir = mkdtempSync(join(tmpdir(), 'file-chunks-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function plainCuts(data: Buffer, split: number): Buffer[] {
  if (split <= 0 || data.length === 0) return [data];
  const out: Buffer[] = [];
  let at = 0;
  while (at < data.length) {
    const nl = data.indexOf(10, at + split - 1);
    const end = nl < 0 ? data.length : nl + 1;
    out.push(data.subarray(at, end));
    at = end;
  }
  return out;
}

/** The chunks, each copied as it comes (with `reuse`, the next one is read into the same buffer). */
async function chunksOf(name: string, data: Buffer, split: number, reuse = false) {
  const path = join(dir, name);
  writeFileSync(path, data);
  const out: { offset: number; data: Buffer }[] = [];
  for await (const c of fileChunks({ path, name }, split, reuse)) out.push({ offset: c.offset, data: Buffer.from(c.data) });
  return out;
}

function lines(seed: number, count: number, longest: number, trailingNewline: boolean): Buffer {
  let x = seed;
  const next = (n: number) => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return (x >>> 8) % n;
  };
  const text = Array.from({ length: count }, () => 'é x'.repeat(next(longest) / 3 + 1)).join('\n');
  return Buffer.from(trailingNewline ? `${text}\n` : text);
}

describe('fileChunks', () => {
  it.each([false, true])(
    'cuts as the plain definition does, for split sizes from 1 byte to past the file, with and without a last line break (reuse %s)',
    async (reuse) => {
      for (const [seed, trailing] of [
        [1, true],
        [2, false],
      ] as const) {
        const data = lines(seed, 400, 300, trailing);
        for (const split of [0, 1, 7, 100, 4096, data.length, data.length * 2]) {
          const got = await chunksOf(`f${seed}-${split}`, data, split, reuse);
          const want = plainCuts(data, split);
          expect(got.map((c) => c.data.toString())).toEqual(want.map((c) => c.toString()));
          let offset = 0;
          for (const c of got) {
            expect(c.offset).toBe(offset);
            offset += c.data.length;
          }
        }
      }
    },
  );

  it.each([false, true])('keeps a line longer than the read-ahead whole, and cuts after it (reuse %s)', async (reuse) => {
    const long = Buffer.concat([Buffer.alloc(3 * 1024 * 1024 + 17, 'a'), Buffer.from('\nshort\n'), Buffer.alloc(2 * 1024 * 1024, 'b')]);
    const got = await chunksOf('long', long, 1024 * 1024, reuse);
    expect(got.map((c) => c.data.length)).toEqual(plainCuts(long, 1024 * 1024).map((c) => c.length));
    expect(Buffer.concat(got.map((c) => c.data)).equals(long)).toBe(true);
  });

  it('with reuse, reads every chunk into one buffer (what a caller keeps, it copies)', async () => {
    const path = join(dir, 'reused');
    const data = lines(5, 60_000, 300, true);
    writeFileSync(path, data);
    const buffers = new Set<ArrayBufferLike>();
    let chunks = 0;
    for await (const c of fileChunks({ path, name: 'reused' }, 2 * 1024 * 1024, true)) {
      buffers.add(c.data.buffer);
      chunks++;
    }
    expect(chunks).toBe(plainCuts(data, 2 * 1024 * 1024).length);
    expect(chunks).toBeGreaterThan(3);
    expect(buffers.size).toBe(1);
  });

  it('gives an empty file as one empty chunk', async () => {
    expect(await chunksOf('empty', Buffer.alloc(0), 100)).toEqual([{ offset: 0, data: Buffer.alloc(0) }]);
  });

  it('refuses a file with a NUL byte near its start, naming the offset, however small the split', async () => {
    const data = Buffer.concat([lines(3, 200, 60, true).subarray(0, 5000), Buffer.from([0]), Buffer.from('\nmore\n')]);
    await expect(chunksOf('nul', data, 100)).rejects.toThrow('looks binary (a NUL byte at offset 5000)');
    // Past the first 8,000 bytes a NUL is data like any other.
    const late = Buffer.concat([lines(4, 400, 60, true).subarray(0, 9000), Buffer.from([0, 10])]);
    expect(Buffer.concat((await chunksOf('late', late, 1000)).map((c) => c.data)).equals(late)).toBe(true);
  });

  it('says a file that cannot be read cannot be read', async () => {
    const gen = fileChunks({ path: join(dir, 'missing.txt'), name: 'missing.txt' }, 100);
    await expect(gen.next()).rejects.toThrow(`input file ${join(dir, 'missing.txt')} cannot be read: ENOENT`);
  });
});

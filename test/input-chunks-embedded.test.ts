/**
 * The embedded local cluster takes `input` files as chunks too: handed over
 * in-process a chunk at a time (never all at once), a map starting before
 * the rest have been, a keyed job exact over them, and nothing sent again
 * for the same files.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { UploadProgress } from '@picompute/sdk/client';
import { fixture, useLocalClient } from './support/cli.js';
import { until } from './support/until.js';

const WC = new URL('../examples/word-count-keyed.ts', import.meta.url).pathname;

describe('file inputs as chunks on the embedded cluster', () => {
  const local = useLocalClient();
  const work = mkdtempSync(join(tmpdir(), 'picompute-chunks-local-'));
  const file = join(work, 'text.txt');
  const lines: string[] = [];
  for (let i = 0; i < 60_000; i++) lines.push(`Line${i % 1000} of the ${['red', 'green', 'blue'][i % 3]} text ${i}`);
  const text = `${lines.join('\n')}\n`;
  writeFileSync(file, text);

  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('starts a map before the last chunk is handed over, and counts every word exactly', async () => {
    const markers = mkdtempSync(join(work, 'markers-'));
    let whenFirstMapRan: UploadProgress | undefined;
    const job = await local.client.submit(fixture('chunk-words.ts'), {
      input: [file],
      splitSize: '256K',
      args: { markers },
      onUpload: async (progress, next) => {
        if (progress.chunksSent < 1 || !next || whenFirstMapRan) return;
        await until('a map to start', async () => existsSync(join(markers, 'started')) || undefined);
        whenFirstMapRan = { ...progress };
      },
    });
    expect(await job.result()).toBe(text.split(/\s+/).filter(Boolean).length);
    expect(whenFirstMapRan!.chunksSent).toBeLessThanOrEqual(2);
    expect(whenFirstMapRan!.chunks).toBeGreaterThan(4);
    expect(whenFirstMapRan!.done).toBe(false);
  });

  it('a file changed between its reading and its sending cancels the job, saying which file and what to do', async () => {
    const changing = join(work, 'changing.txt');
    // Every line its own, so no two chunks are the same (a chunk is sent once however often it occurs).
    const version = (v: string) => Array.from({ length: 20_000 }, (_, i) => `${v} version of line ${String(i).padStart(6, '0')}\n`).join('');
    writeFileSync(changing, version('first'));
    let changed = false;
    const job = await local.client.submit(fixture('chunk-words.ts'), {
      input: [changing],
      splitSize: '128K',
      onUpload: (progress, next) => {
        if (progress.chunksSent >= 1 && next && !changed) {
          changed = true;
          writeFileSync(changing, version('other'));
        }
      },
    });
    await expect(job.result()).rejects.toThrow(
      `job ${job.id} was cancelled: its input could not be sent: input file ${changing} changed while it was being submitted (bytes `,
    );
    await expect(job.uploaded).rejects.toThrow('submit again once it no longer changes');
    expect((await job.done()).state).toBe('CANCELLED');
  });

  it('a keyed word count over the same file sends no chunk again, equals a plain count, and counts its bytes in', async () => {
    const job = await local.client.submit(WC, { input: [file], splitSize: '256K', partitions: 3 });
    const pairs = await job.result<[string, number][]>();
    await job.uploaded;
    expect(job.upload).toMatchObject({ chunksSent: 0, bytesSent: 0 });
    expect(job.upload!.chunksSkipped).toBe(job.upload!.chunks);
    const plain = new Map<string, number>();
    for (const w of text.toLowerCase().split(/[^a-z]+/)) if (w) plain.set(w, (plain.get(w) ?? 0) + 1);
    expect(new Map(pairs)).toEqual(plain);
    // The map phase's bytes in are the chunks' (not the few bytes of the references the tasks carried); the last
    // chunk, under 64 KiB, rode inside the job and counts as encoded, a few bytes more.
    const bytesIn = (await job.done()).shuffle!.bytesIn;
    expect(bytesIn).toBeGreaterThanOrEqual(Buffer.byteLength(text));
    expect(bytesIn).toBeLessThan(Buffer.byteLength(text) + 1024);
  });

  it('gives every chunk of several files, big and small, to its map in input order with its own bytes', async () => {
    // Big chunks are hashed several at a time while the next is read into the same buffer: none may come out of order or take another's bytes.
    const dir = mkdtempSync(join(work, 'places-'));
    const files = [
      ['a.txt', 40_000],
      ['b.txt', 900],
      ['c.txt', 25_000],
    ] as const;
    const want: string[] = [];
    for (const [name, count] of files) {
      const data = Buffer.from(Array.from({ length: count }, (_, i) => `${name} line ${i} ${'x'.repeat(i % 37)}\n`).join(''));
      writeFileSync(join(dir, name), data);
      for (let at = 0; at < data.length; ) {
        const nl = data.indexOf(10, at + 256 * 1024 - 1);
        const end = nl < 0 ? data.length : nl + 1;
        want.push(`${name} ${at} ${end - at} ${createHash('sha256').update(data.subarray(at, end)).digest('hex')}`);
        at = end;
      }
    }
    expect(want.length).toBeGreaterThan(8);
    const job = await local.client.submit(fixture('chunk-places.ts'), { input: [dir], splitSize: '256K' });
    expect((await job.result<string>()).split('\n').slice(0, -1)).toEqual(want);
  });
});

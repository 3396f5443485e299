/**
 * A keyed job's part has no size limit: 70 MB of 100-byte records (made by
 * the map tasks of examples/sort-records.ts, so nothing is uploaded) sorted
 * into one partition gives one part larger than a gRPC message may be
 * (64 MiB). It is written on the reducing agent's disk, streamed to the
 * client through the coordinator and written under a temporary name, and
 * arrives whole: byte for byte the sorted records.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, stat } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from './support/cli.js';

const SORT_EXAMPLE = new URL('../examples/sort-records.ts', import.meta.url).pathname;
const CHUNKS = 70; // × 10,000 records × 100 bytes

async function sha256(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const piece of createReadStream(path)) h.update(piece as Buffer);
  return h.digest('hex');
}

describe('a part larger than a message', () => {
  it('70 MB into partitions: 1 arrives whole and exact through submit --out', async () => {
    const out = join(await mkdtemp(join(tmpdir(), 'picompute-big-part-')), 'sorted');
    const r = await runCli(['submit', SORT_EXAMPLE, '--local', '--arg', `chunks=${CHUNKS}`, '--partitions', '1', '--out', out], { timeoutMs: 120_000 });
    expect(r.stderr).toContain('in 1 parts');
    expect(r.code).toBe(0);
    // Only the finished part: its temporary name was renamed away.
    expect(await readdir(out)).toEqual(['part-00000']);
    const size = (await stat(join(out, 'part-00000'))).size;
    expect(size).toBeGreaterThan(64 * 1024 * 1024);

    const { records } = await import('../examples/sort-records.ts');
    const all: string[] = [];
    for (let seed = 1; seed <= CHUNKS; seed++) for (const rec of records(seed)) all.push(rec);
    all.sort();
    // A part line: the key, a TAB, the payloads of the records with that key (sorted, TAB-joined).
    const h = createHash('sha256');
    let lines: string[] = [];
    for (let i = 0; i < all.length; ) {
      const key = all[i]!.slice(0, 10);
      const payloads: string[] = [];
      for (; i < all.length && all[i]!.startsWith(key); i++) payloads.push(all[i]!.slice(10));
      lines.push(`${key}\t${payloads.join('\t')}\n`);
      if (lines.length === 10_000) {
        h.update(lines.join(''));
        lines = [];
      }
    }
    h.update(lines.join(''));
    expect(await sha256(join(out, 'part-00000'))).toBe(h.digest('hex'));
  }, 150_000);
});

/**
 * The shuffle's files, real ones in a temp folder: a map's buffer spills
 * sorted runs (combined) when full, and the reduce side's merge gives each
 * key once, in order, with every value from every run.
 */
import { mkdtempSync, readdirSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Key } from '@picompute/sdk';
import { EmitBuffer } from '../src/shuffle/emit-buffer.js';
import { compareKeys, defaultPartition } from '../src/shuffle/keys.js';
import { mergeRuns } from '../src/shuffle/merge.js';
import { runChunks } from '../src/shuffle/run-file.js';

async function merged(dir: string, ids: string[]): Promise<[Key, unknown[]][]> {
  const out: [Key, unknown[]][] = [];
  for await (const g of mergeRuns(ids.map((id) => runChunks(join(dir, id), 4096)))) out.push(g);
  return out;
}

describe('the shuffle on disk', () => {
  it('a full buffer spills sorted, combined runs; merged they give each key once with all its values', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'picompute-runs-'));
    let combines = 0;
    const buffer = new EmitBuffer({
      dir,
      prefix: 'm0-a1',
      partitions: 2,
      combine: (_k, values) => {
        combines++;
        return (values as number[]).reduce((a, b) => a + b, 0);
      },
      limitBytes: 20_000,
    });
    const expected = new Map<Key, number>();
    for (let i = 0; i < 3000; i++) {
      const key: Key = i % 3 === 0 ? i % 41 : `w${i % 37}`;
      buffer.emit(key, 1);
      expected.set(key, (expected.get(key) ?? 0) + 1);
    }
    const manifest = buffer.finish();
    expect(manifest.pairs).toBe(3000);
    // Spilled more than once, so the merge has several runs per partition to join.
    expect(manifest.runs.length).toBeGreaterThan(4);
    expect(combines).toBeGreaterThan(0);
    expect(readdirSync(dir).sort()).toEqual(manifest.runs.map((r) => r.id).sort());
    const got = new Map<Key, number>();
    for (const p of [0, 1]) {
      const groups = await merged(
        dir,
        manifest.runs.filter((r) => r.p === p).map((r) => r.id),
      );
      const keys = groups.map(([k]) => k);
      expect(keys).toEqual([...keys].sort(compareKeys));
      for (const [k, values] of groups) {
        expect(defaultPartition(k, 2)).toBe(p);
        expect(got.has(k)).toBe(false);
        got.set(
          k,
          (values as number[]).reduce((a, b) => a + b, 0),
        );
      }
    }
    expect(got).toEqual(expected);
  });

  it("a frequent key's values are folded as they gather: a small buffer holds a million of them without a spill", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'picompute-runs-'));
    const buffer = new EmitBuffer({
      dir,
      prefix: 'm5-a1',
      partitions: 3,
      combine: (_k, values) => (values as number[]).reduce((a, b) => a + b, 0),
      limitBytes: 20_000,
    });
    for (let i = 0; i < 1_000_000; i++) buffer.emit(i % 2 ? 'the' : 7, 1);
    const manifest = buffer.finish();
    expect(manifest.pairs).toBe(1_000_000);
    // Only the spill at the map's end: one run per partition the two keys fall in.
    expect(manifest.runs.every((r) => r.id.includes('-s0-'))).toBe(true);
    const got = new Map<Key, unknown>();
    for (const r of manifest.runs) for (const [k, values] of await merged(dir, [r.id])) got.set(k, values);
    expect(got).toEqual(
      new Map<Key, unknown>([
        [7, [500_000]],
        ['the', [500_000]],
      ]),
    );
  });

  it('orders numbers numerically before strings, strings as JavaScript compares them', () => {
    const keys: Key[] = ['b', 10, 'B', 9, 'a', -1, 'ä', '10'];
    expect([...keys].sort(compareKeys)).toEqual([-1, 9, 10, '10', 'B', 'a', 'b', 'ä']);
  });

  it('a run cut short is refused, not read as fewer keys', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'picompute-runs-'));
    const buffer = new EmitBuffer({ dir, prefix: 'm1-a1', partitions: 1, limitBytes: 1 << 20 });
    for (let i = 0; i < 100; i++) buffer.emit(`key-${i}`, i);
    const [run] = buffer.finish().runs;
    truncateSync(join(dir, run!.id), run!.bytes - 3);
    await expect(merged(dir, [run!.id])).rejects.toThrow(/ends inside a record .* cut short/);
  });

  it('a failed map leaves no runs behind', () => {
    const dir = mkdtempSync(join(tmpdir(), 'picompute-runs-'));
    const buffer = new EmitBuffer({ dir, prefix: 'm2-a1', partitions: 3, limitBytes: 500 });
    for (let i = 0; i < 200; i++) buffer.emit(i, 'x');
    buffer.discard();
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe('combine', () => {
  it('an async combine is refused, naming the key and saying why', () => {
    const dir = mkdtempSync(join(tmpdir(), 'picompute-runs-'));
    const buffer = new EmitBuffer({ dir, prefix: 'm3-a1', partitions: 1, combine: async (_k, v) => v.length, limitBytes: 1 << 20 });
    buffer.emit('same', 1);
    buffer.emit('same', 2);
    expect(() => buffer.finish()).toThrow('combine("same", values) returned a Promise: combine runs while map emits, so it must return its value itself');
  });
});

describe('run records', () => {
  it('carry numbers, strings (any UTF-8) and any codec value, and number keys, exactly', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'picompute-runs-'));
    const buffer = new EmitBuffer({ dir, prefix: 'm4-a1', partitions: 1, limitBytes: 1 << 20 });
    const values: unknown[] = [1.5, -0, 'ä 中 🙂', '', { a: [1, 2n] }, new Map([['k', new Set([1])]]), null, Buffer.from([0, 255])];
    for (const v of values) buffer.emit('k', v);
    buffer.emit(3.25, 'x');
    const [run] = buffer.finish().runs;
    expect(await merged(dir, [run!.id])).toEqual([
      [3.25, ['x']],
      ['k', values],
    ]);
  });
});

describe('the merge of many runs', () => {
  it('gives every key once, in order, with its values in run order then record order, for any number of runs (empty ones too)', async () => {
    const { RunWriter } = await import('@picompute/sdk/run-format');
    const dir = mkdtempSync(join(tmpdir(), 'picompute-merge-'));
    let x = 11;
    const next = (n: number) => {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      return (x >>> 8) % n;
    };
    for (const count of [0, 1, 2, 3, 5, 17, 64]) {
      const runs: [Key, unknown[]][][] = Array.from({ length: count }, (_, r) => {
        const keys = new Set<Key>();
        for (let i = next(r % 4 === 3 ? 1 : 40); i > 0; i--) keys.add(next(3) ? `k${next(30)}` : next(20));
        return [...keys].sort(compareKeys).map((k) => [k, Array.from({ length: 1 + next(3) }, (_, v) => `${r}.${String(k)}.${v}`)]);
      });
      const ids = runs.map((records, r) => {
        const id = `n${count}-r${r}`;
        const w = new RunWriter(join(dir, id));
        for (const [k, values] of records) w.add(k, values);
        w.close();
        return id;
      });
      const want = new Map<Key, unknown[]>();
      for (const records of runs) for (const [k, values] of records) want.set(k, [...(want.get(k) ?? []), ...values]);
      const expected = [...want].sort(([a], [b]) => compareKeys(a, b));
      expect(await merged(dir, ids)).toEqual(expected);
    }
  });
});

describe('the shuffle reuses its buffers', () => {
  it('merges records several times longer than the chunks they are read in, every one joined across chunks, exactly', async () => {
    const { RunWriter } = await import('@picompute/sdk/run-format');
    const dir = mkdtempSync(join(tmpdir(), 'picompute-join-'));
    // Values of 50–400 bytes, each its own text, read 64 bytes at a time: runChunks hands out two buffers in turn
    // and each cursor joins a record in a buffer of its own, so any chunk reused too early shows as wrong values.
    const runs = [0, 1, 2].map((r) =>
      Array.from(
        { length: 60 },
        (_, i) =>
          [`key${String(i * 3 + r).padStart(4, '0')}`, [`${r}:${i}:`.padEnd(50 + ((i * 37 + r * 11) % 350), String.fromCharCode(97 + ((i + r) % 26)))]] as [
            Key,
            unknown[],
          ],
      ),
    );
    const ids = runs.map((records, r) => {
      const w = new RunWriter(join(dir, `r${r}`));
      for (const [k, values] of records) w.add(k, values);
      w.close();
      return `r${r}`;
    });
    const got: [Key, unknown[]][] = [];
    for await (const g of mergeRuns(ids.map((id) => runChunks(join(dir, id), 64)))) got.push(g);
    expect(got).toEqual(runs.flat().sort(([a], [b]) => compareKeys(a, b)));
  });

  it("a map's arenas and run writers go back to the thread's shelf, and the next map takes them instead of new buffers", async () => {
    const { shuffleBuffers } = await import('@picompute/sdk/buffer-shelf');
    const dir = mkdtempSync(join(tmpdir(), 'picompute-shelf-'));
    const map = (attempt: number) => {
      const buffer = new EmitBuffer({ dir, prefix: `m0-a${attempt}`, partitions: 4, limitBytes: 4 * 1024 * 1024 });
      for (let i = 0; i < 20_000; i++) buffer.emit(`k${(i * 7919) % 5000}`, `value ${i}`);
      return buffer.finish();
    };
    map(1);
    expect(shuffleBuffers.bytes).toBeGreaterThan(0);
    // Counted: every new buffer of 64 KiB or more (Node's pool serves smaller ones).
    const { allocUnsafe, allocUnsafeSlow } = Buffer;
    let fresh = 0;
    const counted =
      (alloc: (size: number) => Buffer) =>
      (size: number): Buffer => {
        if (size >= 65536) fresh++;
        return alloc(size);
      };
    Object.assign(Buffer, { allocUnsafe: counted(allocUnsafe), allocUnsafeSlow: counted(allocUnsafeSlow) });
    try {
      const manifest = map(2);
      expect(manifest.pairs).toBe(20_000);
    } finally {
      Object.assign(Buffer, { allocUnsafe, allocUnsafeSlow });
    }
    expect(fresh).toBe(0);
  });
});

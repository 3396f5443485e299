/**
 * A map without a combine keeps its string-keyed pairs as record bytes
 * (../src/shuffle/pair-arena.ts) and its number-keyed ones as values. Each
 * run it spills, read back from its real file, must hold every key once, in
 * the order `compareKeys` gives (numbers first, strings by UTF-16 unit, as
 * `<` compares them: U+E000 after an astral character's surrogates), and,
 * across a partition's runs in spill order, each key's values in the order
 * they were emitted. Keys and values are made to hit every path: keys
 * sharing their first units, Latin-1 and wide ones, the empty key, values
 * of every kind, values and groups larger than the block records are copied
 * through, and many spills.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Key } from '@picompute/sdk';
import { recordBatches } from '@picompute/sdk/run-format';
import { EmitBuffer } from '../src/shuffle/emit-buffer.js';
import { compareKeys } from '../src/shuffle/keys.js';
import { runChunks } from '../src/shuffle/run-file.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function random(seed: number) {
  let x = seed;
  return (n: number) => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return (x >>> 8) % n;
  };
}

const ALPHABETS: Record<string, string[]> = {
  ascii: ['a', 'b', ' ', '~'],
  latin1: ['a', 'ÿ', '\u0000', 'é'],
  wide: ['a', '\u0100', '\ue000', '\uffff', '€', '😀'],
};

/** Pairs (in emit order) and what each run must hold, checked against the definition. */
async function emitAndCheck(pairs: [Key, unknown][], limitBytes: number, partitions: number): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'picompute-arena-'));
  dirs.push(dir);
  const buffer = new EmitBuffer({ dir, prefix: 'm0-a0', partitions, limitBytes, partition: (k) => (typeof k === 'number' ? 0 : k.length % partitions) });
  for (const [k, v] of pairs) buffer.emit(k, v);
  const { runs } = buffer.finish();
  const want = new Map<Key, unknown[]>();
  for (const [k, v] of pairs) want.set(k, [...(want.get(k) ?? []), v]);
  const got = new Map<Key, unknown[]>();
  for (const run of runs) {
    let previous: Key | undefined;
    for await (const batch of recordBatches(runChunks(join(dir, run.id), 1000), run.id)) {
      for (const [key, values] of batch) {
        if (previous !== undefined) expect(compareKeys(previous, key), `${JSON.stringify(previous)} then ${JSON.stringify(key)} in ${run.id}`).toBe(-1);
        previous = key;
        got.set(key, [...(got.get(key) ?? []), ...values]);
      }
    }
  }
  expect(got).toEqual(want);
  return runs.length;
}

describe('runs of a map without a combine', () => {
  for (const [name, alphabet] of Object.entries(ALPHABETS)) {
    it(`hold ${name} keys in order, once a run, with every value in emit order, over many spills`, async () => {
      const next = random(name.length * 7919);
      const key = (max: number, prefix = '') => {
        let k = prefix;
        for (let n = next(max + 1); n > 0; n--) k += alphabet[next(alphabet.length)];
        return k;
      };
      const pairs: [Key, unknown][] = [];
      for (let i = 0; i < 6000; i++) {
        const k = i % 11 === 0 ? next(50) - 25 : i % 3 === 0 ? key(3) : i % 3 === 1 ? key(8) : key(5, 'shared prefix ');
        const v = i % 5 === 0 ? i : i % 5 === 1 ? `v${i}` : i % 5 === 2 ? { i, list: [i, 'x'] } : i % 5 === 3 ? null : `${alphabet.join('')}${i}`;
        pairs.push([k, v]);
      }
      expect(await emitAndCheck(pairs, 60_000, 3)).toBeGreaterThan(9);
    });
  }

  it('copy values and groups larger than the block they go through, and the empty key', async () => {
    const big = 'x'.repeat(70_000);
    const pairs: [Key, unknown][] = [
      ['', 'empty key'],
      ['k', big],
      ['many', 'a'],
      ...Array.from({ length: 3000 }, (_, i): [Key, unknown] => ['many', `value ${i} ${'y'.repeat(i % 40)}`]),
      ['k', 'small'],
      ['', big],
      [7, big],
      [7, 'seven'],
    ];
    expect(await emitAndCheck(pairs, 1 << 20, 1)).toBe(1);
  });

  it('copy a group whose key alone nearly fills the block (the smallest, 4 KiB)', async () => {
    const pairs: [Key, unknown][] = [];
    for (let size = 4080; size <= 4100; size++) {
      const key = 'k'.repeat(size);
      pairs.push([key, 'a'], [key, size], ['after', size]);
    }
    expect(await emitAndCheck(pairs, 16_000, 1)).toBeGreaterThan(5);
  });
});

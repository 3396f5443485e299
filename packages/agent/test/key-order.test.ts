/**
 * The spill's sort of string keys (a packed-prefix native sort, then only
 * keys sharing a prefix compared whole) must give exactly the order of a
 * stable sort by `<`: keys by UTF-16 code unit, equal keys in emit order.
 * Checked here against that plain sort on keys made to hit every path —
 * shorter than the prefix, sharing long prefixes, wide (non-Latin-1) units,
 * surrogate halves, empty strings, NULs, many duplicates, and groups both
 * small and large.
 */
import { describe, expect, it } from 'vitest';
import { stableStringOrder } from '../src/shuffle/key-order.js';

function plainOrder(keys: string[]): number[] {
  return keys.map((_, i) => i).sort((a, b) => (keys[a]! < keys[b]! ? -1 : keys[a]! > keys[b]! ? 1 : a - b));
}

function random(seed: number) {
  let x = seed;
  return (n: number) => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return (x >>> 8) % n;
  };
}

const ALPHABETS = {
  ascii: 'ab c~',
  latin1: 'aÿ\u0000é\u00ff ',
  wide: 'a\u0100\uffff€\ud83d\ude00\u0000',
};

function keysFrom(alphabet: string, count: number, maxLength: number, seed: number, prefix = ''): string[] {
  const next = random(seed);
  return Array.from({ length: count }, () => {
    let k = prefix;
    for (let n = next(maxLength + 1); n > 0; n--) k += alphabet[next(alphabet.length)];
    return k;
  });
}

describe('stableStringOrder', () => {
  for (const [name, alphabet] of Object.entries(ALPHABETS)) {
    it(`orders ${name} keys as a stable sort by < does (short, long, duplicated, shared prefixes)`, () => {
      for (let seed = 1; seed <= 20; seed++) {
        const keys = [
          ...keysFrom(alphabet, 300, 3, seed), // mostly no longer than the prefix: many equal keys
          ...keysFrom(alphabet, 300, 8, seed + 100),
          ...keysFrom(alphabet, 200, 6, seed + 200, 'same prefix '), // one large group, sorted by a comparator
        ];
        // Interleave so duplicates are far apart in emit order.
        const shuffled = keys
          .map((k, i) => [k, random(seed + i)(1000)] as const)
          .sort((a, b) => a[1] - b[1])
          .map(([k]) => k);
        expect(Array.from(stableStringOrder(shuffled))).toEqual(plainOrder(shuffled));
      }
    });
  }

  it('keeps emit order among equal keys, however many', () => {
    const keys = Array.from({ length: 5000 }, (_, i) => (i % 3 === 0 ? 'dup' : i % 3 === 1 ? 'd' : `dup${i % 7}`));
    expect(Array.from(stableStringOrder(keys))).toEqual(plainOrder(keys));
  });

  it('handles no keys, one key and the empty key', () => {
    expect(Array.from(stableStringOrder([]))).toEqual([]);
    expect(Array.from(stableStringOrder(['x']))).toEqual([0]);
    expect(Array.from(stableStringOrder(['b', '', 'a', '']))).toEqual([1, 3, 2, 0]);
  });
});

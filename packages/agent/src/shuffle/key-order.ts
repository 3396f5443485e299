/**
 * The order of a spill's string keys, stable (equal keys keep their emit
 * order), as `<` compares strings: by UTF-16 code unit. Sorting positions
 * with a comparator cost ~650 ns a key (V8 calls it ~13 times per key, each
 * call two lookups and a string compare); here each key's first code units
 * are packed with its position into one float64 and the lot is sorted
 * natively (a typed array's sort: no calls back into JavaScript), ~200 ns a
 * key. Only keys sharing that packed prefix are then compared whole.
 */

/** A position takes the low 20 bits of a float64's 53 exact ones; the prefix (below 257^4, 2^32.02) the rest. */
export const POSITIONS = 2 ** 20;
/** Groups of keys sharing a prefix up to this size are put in order by insertion, larger ones by a sort. */
const INSERTION_MAX = 16;

/**
 * A key's first units as a number below 257^4 that orders as the key does:
 * four units in base 257 when they are all below 256 (Latin-1; 0 for "no
 * unit", so "a" comes before "a\0"), else two in base 65537. -1: a wide unit
 * among the first four (the caller packs every key with two then).
 */
export function narrowPrefix(key: string): number {
  const n = key.length;
  let p = 0;
  for (let i = 0; i < 4; i++) {
    const c = i < n ? key.charCodeAt(i) : -1;
    if (c > 255) return -1;
    p = p * 257 + c + 1;
  }
  return p;
}

function widePrefix(key: string): number {
  const c0 = key.length > 0 ? key.charCodeAt(0) + 1 : 0;
  const c1 = key.length > 1 ? key.charCodeAt(1) + 1 : 0;
  return c0 * 65537 + c1;
}

/** Positions of `keys` in sorted order; equal keys keep their order. */
export function stableStringOrder(keys: readonly string[]): ArrayLike<number> {
  const n = keys.length;
  if (n >= POSITIONS) return comparatorOrder(keys);
  const packed = new Float64Array(n);
  let units = 4;
  for (let i = 0; i < n; i++) {
    const p = narrowPrefix(keys[i]!);
    if (p < 0) {
      units = 2;
      break;
    }
    packed[i] = p * POSITIONS + i;
  }
  if (units === 2) for (let i = 0; i < n; i++) packed[i] = widePrefix(keys[i]!) * POSITIONS + i;
  return prefixedOrder(
    packed,
    units,
    (i) => keys[i]!,
    (i) => keys[i]!.length,
  );
}

/**
 * Sorts `packed` (each key's prefix of `units` units times POSITIONS plus its
 * position) and gives the positions in key order, equal keys in position
 * order. Only keys sharing a prefix are looked at whole: `keyOf` and
 * `lengthOf` (in UTF-16 units) give a position's key, so a caller that keeps
 * its keys as bytes (./pair-arena.ts) makes strings of those alone.
 */
export function prefixedOrder(packed: Float64Array, units: number, keyOf: (i: number) => string, lengthOf: (i: number) => number): Uint32Array {
  const n = packed.length;
  packed.sort();
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = packed[i]! % POSITIONS;
  // Keys sharing a prefix are in emit order: put those longer than the prefix in key order (ties keep emit order).
  for (let i = 0; i < n; ) {
    const prefix = Math.floor(packed[i]! / POSITIONS);
    let j = i + 1;
    while (j < n && Math.floor(packed[j]! / POSITIONS) === prefix) j++;
    if (j - i > 1) orderGroup(order, i, j, units, keyOf, lengthOf);
    i = j;
  }
  return order;
}

function orderGroup(order: Uint32Array, from: number, to: number, units: number, keyOf: (i: number) => string, lengthOf: (i: number) => number): void {
  let longer = false;
  for (let g = from; g < to && !longer; g++) longer = lengthOf(order[g]!) > units;
  if (!longer) return; // equal prefixes of keys no longer than it: equal keys, already in emit order
  const positions = Array.from(order.subarray(from, to));
  const keys = positions.map(keyOf);
  const at = positions.map((_, g) => g);
  if (to - from <= INSERTION_MAX) {
    for (let a = 1; a < at.length; a++) {
      const moving = at[a]!;
      let b = a - 1;
      while (b >= 0 && keys[at[b]!]! > keys[moving]!) {
        at[b + 1] = at[b]!;
        b--;
      }
      at[b + 1] = moving;
    }
  } else at.sort(byKeyThenPosition(keys));
  for (let g = 0; g < at.length; g++) order[from + g] = positions[at[g]!]!;
}

function comparatorOrder(keys: readonly string[]): number[] {
  return Array.from({ length: keys.length }, (_, i) => i).sort(byKeyThenPosition(keys));
}

/** Compares positions by their keys, equal keys by position: a stable order. */
function byKeyThenPosition(keys: readonly string[]): (a: number, b: number) => number {
  return (a, b) => (keys[a]! < keys[b]! ? -1 : keys[a]! > keys[b]! ? 1 : a - b);
}

/**
 * Keys of a keyed job: what may be one (a string or a finite number), their
 * order (numbers before strings, numbers numerically, strings as JavaScript's
 * `<` compares them: by UTF-16 code unit, like Array.prototype.sort), and the
 * default partition of a key (a stable hash, the same on every node and Node
 * version, so a key's values all meet at one reducer).
 */
import type { Key } from '@picompute/sdk';

export function compareKeys(a: Key, b: Key): number {
  const ta = typeof a;
  const tb = typeof b;
  if (ta !== tb) return ta === 'number' ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

function describeType(key: unknown): string {
  if (key === null) return 'null';
  if (Array.isArray(key)) return 'an array';
  if (typeof key === 'object') return `an object (${(key as object).constructor?.name ?? 'no prototype'})`;
  if (typeof key === 'number') return `the number ${key}`;
  return `a ${typeof key}`;
}

/** Throws, naming the key's type, unless it can be a key. */
export function checkKey(key: unknown): asserts key is Key {
  if (typeof key === 'string' || (typeof key === 'number' && Number.isFinite(key))) return;
  throw new TypeError(
    `ctx.emit(key, value): a key must be a string or a finite number, and this one is ${describeType(key)}; turn it into a string (String(key) or JSON.stringify(key)) or a number first`,
  );
}

/** FNV-1a over the key's text (tagged by its type, so 1 and "1" may differ), mod `partitions`. */
export function defaultPartition(key: Key, partitions: number): number {
  const text = typeof key === 'number' ? `n${key}` : `s${key}`;
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % partitions;
}

/** A key as a message shows it. */
export function showKey(key: unknown): string {
  const text = typeof key === 'string' ? JSON.stringify(key) : String(key);
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
}

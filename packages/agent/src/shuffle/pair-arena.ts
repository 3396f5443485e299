/**
 * One partition's pairs with string keys since the last spill, kept as the
 * bytes of run records (see @picompute/sdk/run-format): each pair is
 * written here when it is emitted, as `[length][key][count 1][value]`, with
 * its key's first units packed into a number beside it. The map's strings
 * then die young: kept as JavaScript strings until the spill, every
 * scavenge copied them and promoted them, and the collector took a fifth of
 * a sort's map. At the spill the records are put in key order by those
 * packed prefixes (./key-order.ts; a key is made a string again only when it
 * shares its prefix with another), and copied whole, in order, within this
 * one buffer (copyWithin: no view made per copy) into a block after them
 * that goes to the run file each time it fills.
 */
import { shuffleBuffers } from '@picompute/sdk/buffer-shelf';
import { encodedItem, itemRoom, putItem, type RunWriter, setU32, u32 } from '@picompute/sdk/run-format';
import { POSITIONS, narrowPrefix, prefixedOrder, stableStringOrder } from './key-order.js';

type Utf8Sliceable = Buffer & { utf8Slice(start: number, end: number): string };

/** The buffer's first size at most: a partition's share of the spill limit, so a full one grows (by doubling, each a copy) once or twice. */
const FIRST_BYTES_MAX = 4 * 1024 * 1024;
const FIRST_BYTES_MIN = 16 * 1024;
/** Index entries the buffer's first size makes room for: a record of W8's is 120 bytes. */
const FIRST_BYTES_A_PAIR = 128;
/** Offsets into a record: its length (4), then the key item's tag (1) and byte count (4), then the key. */
const KEY_BYTES_AT = 5;
const KEY_AT = 9;

export class PairArena {
  #buf: Buffer | undefined;
  #used = 0;
  #pairs = 0;
  /** Where each pair's record starts. */
  #starts = new Uint32Array(0);
  /** Each pair's key prefix times POSITIONS plus its position (see ./key-order.ts), while every key's first units are Latin-1. */
  #packed = new Float64Array(0);
  /** Each key's length in UTF-16 units: keys sharing a prefix need comparing only when one is longer than it. */
  #lengths = new Uint32Array(0);
  /** A key had a unit above U+00FF among its first four: the spill sorts every key as a string. */
  #wide = false;

  readonly #firstBytes: number;

  /**
   * @param block bytes of the block records are copied through at the spill (it is made only then).
   * @param share this partition's share of the spill limit, in bytes.
   */
  constructor(
    private readonly block: number,
    share: number,
  ) {
    this.#firstBytes = Math.max(FIRST_BYTES_MIN, Math.min(FIRST_BYTES_MAX, share));
  }

  get pairs(): number {
    return this.#pairs;
  }

  /** Keeps a pair; returns the bytes it holds here (its record and its place in the index). */
  add(key: string, value: unknown): number {
    const encoded = encodedItem(value);
    const buf = this.#room(4 + itemRoom(key, undefined) + 4 + itemRoom(value, encoded));
    const start = this.#used;
    let at = putItem(buf, start + 4, key, undefined);
    setU32(buf, at, 1);
    at = putItem(buf, at + 4, value, encoded);
    setU32(buf, start, at - start - 4);
    const i = this.#pairs++;
    if (i === this.#starts.length) this.#growIndex();
    this.#starts[i] = start;
    this.#lengths[i] = key.length;
    if (!this.#wide) {
      const prefix = narrowPrefix(key);
      if (prefix < 0) this.#wide = true;
      else this.#packed[i] = prefix * POSITIONS + i;
    }
    this.#used = at;
    return at - start + 16;
  }

  /** Writes the pairs to `out` in key order (equal keys in emit order), a record per key, and forgets them. */
  writeTo(out: RunWriter): void {
    if (this.#pairs === 0) return;
    const order = this.#order();
    const buf = this.#room(this.block);
    const copier = new BlockCopier(buf, this.#used, this.block, out);
    const starts = this.#starts;
    for (let i = 0; i < order.length; ) {
      const s = starts[order[i]!]!;
      let j = i + 1;
      while (j < order.length && sameKey(buf, s, starts[order[j]!]!)) j++;
      if (j === i + 1) copier.copy(s, s + 4 + u32(buf, s), 1);
      else {
        // A record of the key and every value it was emitted with, in emit order.
        const valuesAt = keyEnd(buf, s) + 4;
        let bytes = valuesAt - s - 4;
        for (let g = i; g < j; g++) bytes += valuesBytes(buf, starts[order[g]!]!);
        copier.header(bytes, s + 4, valuesAt - 4, j - i);
        for (let g = i; g < j; g++) {
          const r = starts[order[g]!]!;
          const end = recordEnd(buf, r);
          copier.copy(end - valuesBytes(buf, r), end, 0);
        }
      }
      i = j;
    }
    copier.flush();
    this.#forget();
  }

  /** Forgets the pairs and puts the buffer back on this thread's shelf (the map ended, or failed). */
  clear(): void {
    shuffleBuffers.give(this.#buf);
    this.#buf = undefined;
    this.#forget();
  }

  /** No pairs held; the buffer and index stay for the next ones. */
  #forget(): void {
    this.#used = 0;
    this.#pairs = 0;
    this.#wide = false;
  }

  #order(): ArrayLike<number> {
    const n = this.#pairs;
    const buf = this.#buf as Utf8Sliceable;
    const keyOf = (i: number) => {
      const s = this.#starts[i]!;
      return buf.utf8Slice(s + KEY_AT, s + KEY_AT + u32(buf, s + KEY_BYTES_AT));
    };
    if (this.#wide || n >= POSITIONS) return stableStringOrder(Array.from({ length: n }, (_, i) => keyOf(i)));
    return prefixedOrder(this.#packed.subarray(0, n), 4, keyOf, (i) => this.#lengths[i]!);
  }

  /** The buffer, with room for `bytes` more after what it holds. */
  #room(bytes: number): Buffer {
    const buf = this.#buf;
    if (buf && this.#used + bytes <= buf.length) return buf;
    let size = buf ? buf.length : this.#firstBytes;
    while (this.#used + bytes > size) size *= 2;
    const bigger = shuffleBuffers.take(size);
    if (buf) {
      buf.copy(bigger, 0, 0, this.#used);
      shuffleBuffers.give(buf);
    }
    this.#buf = bigger;
    return bigger;
  }

  #growIndex(): void {
    const size = Math.max(Math.floor(this.#firstBytes / FIRST_BYTES_A_PAIR), this.#starts.length * 2);
    const starts = new Uint32Array(size);
    starts.set(this.#starts);
    this.#starts = starts;
    const lengths = new Uint32Array(size);
    lengths.set(this.#lengths);
    this.#lengths = lengths;
    const packed = new Float64Array(size);
    packed.set(this.#packed);
    this.#packed = packed;
  }
}

function keyEnd(buf: Buffer, record: number): number {
  return record + KEY_AT + u32(buf, record + KEY_BYTES_AT);
}

function recordEnd(buf: Buffer, record: number): number {
  return record + 4 + u32(buf, record);
}

/** The bytes of a record's value items (after its key and count). */
function valuesBytes(buf: Buffer, record: number): number {
  return recordEnd(buf, record) - keyEnd(buf, record) - 4;
}

/** Two records' keys are equal: the same UTF-8 bytes. */
function sameKey(buf: Buffer, a: number, b: number): boolean {
  const n = u32(buf, a + KEY_BYTES_AT);
  if (u32(buf, b + KEY_BYTES_AT) !== n) return false;
  for (let k = KEY_AT; k < KEY_AT + n; k++) if (buf[a + k] !== buf[b + k]) return false;
  return true;
}

/** Copies ranges of `buf` into its block at `from` (`size` bytes), handing the block to `out` each time it fills. */
class BlockCopier {
  #at: number;
  #records = 0;

  constructor(
    private readonly buf: Buffer,
    private readonly from: number,
    private readonly size: number,
    private readonly out: RunWriter,
  ) {
    this.#at = from;
  }

  /** Bytes `start`..`end` of the buffer, completing `records` records. */
  copy(start: number, end: number, records: number): void {
    const n = end - start;
    if (this.#at + n > this.from + this.size) {
      this.flush();
      if (n > this.size) {
        this.out.addBytes(this.buf, start, end, records);
        return;
      }
    }
    const buf = this.buf;
    const at = this.#at;
    // Short ranges byte by byte: cheaper than the call.
    if (n > 24) buf.copyWithin(at, start, end);
    else for (let k = 0; k < n; k++) buf[at + k] = buf[start + k]!;
    this.#at = at + n;
    this.#records += records;
  }

  /** A record's start: its length (`bytes` after it), the key item at `keyStart`..`keyEnd`, and its count of values. */
  header(bytes: number, keyStart: number, keyEnd: number, count: number): void {
    const n = keyEnd - keyStart;
    if (this.#at + 8 + n > this.from + this.size) this.flush();
    setU32(this.buf, this.#at, bytes);
    this.#at += 4;
    this.copy(keyStart, keyEnd, 0);
    if (this.#at + 4 > this.from + this.size) this.flush();
    setU32(this.buf, this.#at, count);
    this.#at += 4;
    this.#records++;
  }

  flush(): void {
    if (this.#at > this.from) this.out.addBytes(this.buf, this.from, this.#at, this.#records);
    this.#at = this.from;
    this.#records = 0;
  }
}

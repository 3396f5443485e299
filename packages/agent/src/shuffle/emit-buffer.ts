/**
 * The map side of a keyed job: what `ctx.emit` does. Pairs are kept by
 * partition in a bounded buffer (grouped by key only when there is a
 * `combine`; without one, a pair with a string key is kept as the bytes of
 * its run record, see ./pair-arena.ts); when it holds about `limitBytes`
 * (or the map ends) it is
 * spilled, each partition's pairs sorted by key and, with a `combine`, each
 * key's values folded into one (also every FOLD_AT values while they gather), as one sorted run per partition in the
 * job's folder (see ./run-file.ts). The map task's output
 * is then the manifest: which runs it left, for which partition, how big.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Key } from '@picompute/sdk';
import { encode } from '@picompute/sdk/codec';
import { checkKey, compareKeys, defaultPartition, showKey } from './keys.js';
import { stableStringOrder } from './key-order.js';
import { PairArena } from './pair-arena.js';
import { RunWriter } from '@picompute/sdk/run-format';

export interface RunInfo {
  /** Partition. */
  p: number;
  /** Names the run on this agent (a file in the job's folder). */
  id: string;
  bytes: number;
}

export interface Manifest {
  runs: RunInfo[];
  /** Pairs emitted, and their estimated size before combining. */
  pairs: number;
  bytesIn: number;
}

export interface EmitBufferOptions {
  /** The job's folder on this agent. */
  dir: string;
  /** Unique per task attempt: run ids start with it. */
  prefix: string;
  partitions: number;
  partition?: (key: Key, partitions: number) => number;
  combine?: (key: Key, values: unknown[]) => unknown;
  limitBytes: number;
}

/** A rough size in memory, enough to bound the buffer: V8's per-value overheads, not exact. */
function sizeOf(v: unknown): number {
  switch (typeof v) {
    case 'number':
    case 'boolean':
    case 'undefined':
      return 16;
    case 'string':
      return 40 + 2 * v.length;
    case 'bigint':
      return 32;
    default:
      return v === null ? 16 : 64 + encode(v).length;
  }
}

/** A partition's pairs since the last spill, in emit order (a job without a combine). */
interface Pending {
  /** Pairs with string keys, as bytes. */
  arena: PairArena;
  /** Pairs with number keys (they sort before every string). */
  keys: number[];
  values: unknown[];
}

/** The most bytes of a block a partition's records are copied through at a spill (see ./pair-arena.ts). */
const BLOCK_BYTES = 64 * 1024;

/** A key's values since the last spill (a job with a combine), with its partition, worked out once per key and spill. */
interface Group {
  p: number;
  values: unknown[];
  /** What its values count for in the buffer's bytes. */
  bytes: number;
}

/**
 * A key's values are folded by `combine` whenever this many have gathered,
 * not only at the spill (Hadoop's combiner too may run on its own output):
 * a frequent key then costs a few values, not one per emit, and the buffer
 * spills less often.
 */
const FOLD_AT = 64;

export class EmitBuffer {
  /** Without a combine: pairs by partition. */
  readonly #pending: Pending[];
  /** With a combine: values by key, for every partition at once (one lookup per emit; a key seen before skips its check and hash). */
  readonly #groups: Map<Key, Group> | undefined;
  /** Every key in #groups a string. */
  #strings = true;
  #bytes = 0;
  #spills = 0;
  readonly #runs: RunInfo[] = [];
  #pairs = 0;
  #bytesIn = 0;

  constructor(private readonly o: EmitBufferOptions) {
    this.#groups = o.combine ? new Map() : undefined;
    // Blocks smaller with many partitions: every partition keeps one, and the buffer's limit is shared.
    const share = Math.floor(o.limitBytes / o.partitions);
    const block = Math.max(4096, Math.min(BLOCK_BYTES, Math.floor(share / 4)));
    this.#pending = o.combine ? [] : Array.from({ length: o.partitions }, () => ({ arena: new PairArena(block, share), keys: [], values: [] }));
    mkdirSync(o.dir, { recursive: true, mode: 0o700 });
  }

  emit(key: unknown, value: unknown): void {
    const group = this.#groups?.get(key as Key);
    if (group !== undefined) {
      this.#addValue(key as Key, group, value);
      return;
    }
    checkKey(key);
    const p = this.#partitionOf(key);
    if (typeof key !== 'string') this.#strings = false;
    if (this.#groups) {
      // A key costs once, each value 8 bytes more than itself.
      const bytes = sizeOf(value) + 8;
      this.#groups.set(key, { p, values: [value], bytes });
      this.#count(bytes + sizeOf(key) + 64);
      return;
    }
    // Without a combine, pairs are only sorted at the spill: no map, no array per key (equal keys meet again in the reduce's merge).
    const pending = this.#pending[p]!;
    if (typeof key === 'string') {
      this.#count(pending.arena.add(key, value));
      return;
    }
    pending.keys.push(key);
    pending.values.push(value);
    this.#count(sizeOf(key) + sizeOf(value) + 16);
  }

  #partitionOf(key: Key): number {
    const r = this.o.partitions;
    const p = r === 1 ? 0 : this.o.partition ? this.o.partition(key, r) : defaultPartition(key, r);
    if (!(Number.isInteger(p) && p >= 0 && p < r)) {
      throw new RangeError(
        `partition(${showKey(key)}, ${r}) returned ${typeof p === 'string' ? JSON.stringify(p) : String(p)}; it must be a whole number from 0 to ${r - 1}`,
      );
    }
    return p;
  }

  #addValue(key: Key, group: Group, value: unknown): void {
    const bytes = sizeOf(value) + 8;
    group.values.push(value);
    group.bytes += bytes;
    this.#count(bytes, false);
    if (group.values.length >= FOLD_AT) {
      const folded = this.#combine(key, group.values);
      // A new array: the combine may have kept the one it was given.
      group.values = [folded];
      const now = sizeOf(folded) + 8;
      this.#bytes -= group.bytes - now;
      group.bytes = now;
    }
    if (this.#bytes >= this.o.limitBytes) this.spill();
  }

  /** A pair of `bytes` emitted (and held until the spill); spills a full buffer unless told not to yet. */
  #count(bytes: number, spill = true): void {
    this.#bytes += bytes;
    this.#bytesIn += bytes;
    this.#pairs++;
    if (spill && this.#bytes >= this.o.limitBytes) this.spill();
  }

  #combine(key: Key, values: unknown[]): unknown {
    const combined = this.o.combine!(key, values);
    if (typeof (combined as { then?: unknown } | null)?.then === 'function') {
      throw new TypeError(
        `combine(${showKey(key)}, values) returned a Promise: combine runs while map emits, so it must return its value itself (no async, no await)`,
      );
    }
    return combined;
  }

  /** Writes what the buffer holds as one sorted run per partition that has any. */
  spill(): void {
    if (this.#bytes === 0) return;
    const spill = this.#spills++;
    const write = (p: number, writeRun: (path: string) => number) => {
      const id = `${this.o.prefix}-s${spill}-p${p}`;
      this.#runs.push({ p, id, bytes: writeRun(join(this.o.dir, id)) });
    };
    if (this.#groups) {
      const keys: Key[][] = Array.from({ length: this.o.partitions }, () => []);
      for (const [key, group] of this.#groups) keys[group.p]!.push(key);
      for (let p = 0; p < keys.length; p++) if (keys[p]!.length) write(p, (path) => this.#writeGroups(path, keys[p]!));
      this.#groups.clear();
      this.#strings = true;
    } else {
      for (let p = 0; p < this.#pending.length; p++) {
        const pending = this.#pending[p]!;
        if (pending.keys.length === 0 && pending.arena.pairs === 0) continue;
        write(p, (path) => writePending(path, pending));
        pending.keys = [];
        pending.values = [];
      }
    }
    this.#bytes = 0;
  }

  /** One partition's keys, each with its values folded into one. */
  #writeGroups(path: string, keys: Key[]): number {
    // Native sorts: a typed array's for string keys (./key-order.ts; twice as fast as Array#sort on words), else a comparator.
    const sorted = this.#strings ? Array.from(stableStringOrder(keys as string[]), (i) => keys[i]!) : keys.sort(compareKeys);
    const out = new RunWriter(path);
    try {
      for (const k of sorted) {
        const values = this.#groups!.get(k)!.values;
        out.addOne(k, values.length < 2 ? values[0] : this.#combine(k, values));
      }
    } catch (err) {
      out.abort();
      throw err;
    }
    return out.close();
  }

  /** The map ended: spills the rest and says where everything is. */
  finish(): Manifest {
    this.spill();
    for (const pending of this.#pending) pending.arena.clear();
    return { runs: this.#runs, pairs: this.#pairs, bytesIn: this.#bytesIn };
  }

  /** The map failed: its runs would only be in the way. */
  discard(): void {
    for (const pending of this.#pending) {
      pending.arena.clear();
      pending.keys = [];
      pending.values = [];
    }
    this.#groups?.clear();
    for (const r of this.#runs) rmSync(join(this.o.dir, r.id), { force: true });
    this.#runs.length = 0;
  }
}

/** A partition's pairs, sorted by key, as one run: number keys first, then the string keys' records. */
function writePending(path: string, pending: Pending): number {
  const out = new RunWriter(path);
  try {
    writePairs(out, pending.keys, pending.values);
    pending.arena.writeTo(out);
  } catch (err) {
    out.abort();
    throw err;
  }
  return out.close();
}

/**
 * Pairs in emit order, written sorted by key (a stable sort of their
 * positions, so a key's values keep the order they were emitted in), a
 * record per run of equal keys.
 */
function writePairs(out: RunWriter, keys: number[], values: unknown[]): void {
  const sorted = Array.from({ length: keys.length }, (_, i) => i).sort((a, b) => keys[a]! - keys[b]! || a - b);
  for (let i = 0; i < sorted.length; ) {
    const key = keys[sorted[i]!]!;
    let j = i + 1;
    while (j < sorted.length && keys[sorted[j]!] === key) j++;
    if (j === i + 1) out.addOne(key, values[sorted[i]!]);
    else {
      const group = new Array<unknown>(j - i);
      for (let g = i; g < j; g++) group[g - i] = values[sorted[g]!];
      out.add(key, group);
    }
    i = j;
  }
}

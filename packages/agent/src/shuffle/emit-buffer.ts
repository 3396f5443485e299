/**
 * The map side of a keyed job: what `ctx.emit` does. Pairs are kept by
 * partition in a bounded buffer (grouped by key only when there is a
 * `combine`); when it holds about `limitBytes` (or the map ends) it is
 * spilled, each partition's pairs sorted by key and, with a `combine`, each
 * key's values folded into one, as one sorted run per partition in the
 * job's folder (see ./run-file.ts). The map task's output
 * is then the manifest: which runs it left, for which partition, how big.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Key } from '@picompute/sdk';
import { encode } from '@picompute/sdk/codec';
import { checkKey, compareKeys, defaultPartition, showKey } from './keys.js';
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

/** A partition's pairs since the last spill: grouped by key when there is a combine, else just in emit order. */
interface Pending {
  keys: Key[];
  values: unknown[];
  /** Only with a combine. */
  groups?: Map<Key, unknown[]>;
  /** Every key a string: they sort without a comparator (V8 then compares strings natively, 3× faster). */
  strings: boolean;
}

export class EmitBuffer {
  readonly #pending: Pending[];
  #bytes = 0;
  #spills = 0;
  readonly #runs: RunInfo[] = [];
  #pairs = 0;
  #bytesIn = 0;

  constructor(private readonly o: EmitBufferOptions) {
    this.#pending = Array.from({ length: o.partitions }, () => ({ keys: [], values: [], groups: o.combine ? new Map() : undefined, strings: true }));
    mkdirSync(o.dir, { recursive: true, mode: 0o700 });
  }

  emit(key: unknown, value: unknown): void {
    checkKey(key);
    const r = this.o.partitions;
    const p = r === 1 ? 0 : this.o.partition ? this.o.partition(key, r) : defaultPartition(key, r);
    if (!(Number.isInteger(p) && p >= 0 && p < r)) {
      throw new RangeError(
        `partition(${showKey(key)}, ${r}) returned ${typeof p === 'string' ? JSON.stringify(p) : String(p)}; it must be a whole number from 0 to ${r - 1}`,
      );
    }
    const pending = this.#pending[p]!;
    let size: number;
    if (pending.groups) {
      // With a combine, a key's values are gathered (and folded at the spill): a key costs once, a value 8 bytes more.
      const values = pending.groups.get(key);
      size = sizeOf(value) + (values ? 8 : sizeOf(key) + 64);
      if (values) values.push(value);
      else pending.groups.set(key, [value]);
    } else {
      // Without, pairs are only sorted at the spill: no map, no array per key (equal keys meet again in the reduce's merge).
      pending.keys.push(key);
      pending.values.push(value);
      size = sizeOf(key) + sizeOf(value) + 16;
    }
    if (typeof key !== 'string') pending.strings = false;
    this.#bytes += size;
    this.#bytesIn += size;
    this.#pairs++;
    if (this.#bytes >= this.o.limitBytes) this.spill();
  }

  /** Writes what the buffer holds as one sorted run per partition that has any. */
  spill(): void {
    if (this.#bytes === 0) return;
    const spill = this.#spills++;
    for (let p = 0; p < this.#pending.length; p++) {
      const pending = this.#pending[p]!;
      const id = `${this.o.prefix}-s${spill}-p${p}`;
      const path = join(this.o.dir, id);
      let bytes: number;
      if (pending.groups) {
        if (pending.groups.size === 0) continue;
        bytes = this.#writeGroups(path, pending.groups, pending.strings);
        pending.groups.clear();
      } else {
        if (pending.keys.length === 0) continue;
        bytes = writePairs(path, pending.keys, pending.values, pending.strings);
        pending.keys = [];
        pending.values = [];
      }
      pending.strings = true;
      this.#runs.push({ p, id, bytes });
    }
    this.#bytes = 0;
  }

  #writeGroups(path: string, group: Map<Key, unknown[]>, strings: boolean): number {
    const keys = [...group.keys()];
    if (strings) (keys as string[]).sort();
    else keys.sort(compareKeys);
    const combine = this.o.combine!;
    const out = new RunWriter(path);
    try {
      for (const k of keys) {
        const values = group.get(k)!;
        if (values.length < 2) {
          out.add(k, values);
          continue;
        }
        const combined = combine(k, values);
        if (typeof (combined as { then?: unknown } | null)?.then === 'function') {
          throw new TypeError(
            `combine(${showKey(k)}, values) returned a Promise: combine runs while map emits, so it must return its value itself (no async, no await)`,
          );
        }
        out.addOne(k, combined);
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
    return { runs: this.#runs, pairs: this.#pairs, bytesIn: this.#bytesIn };
  }

  /** The map failed: its runs would only be in the way. */
  discard(): void {
    for (const pending of this.#pending) {
      pending.keys = [];
      pending.values = [];
      pending.groups?.clear();
    }
    for (const r of this.#runs) rmSync(join(this.o.dir, r.id), { force: true });
    this.#runs.length = 0;
  }
}

/**
 * Pairs in emit order, written sorted by key (a stable sort of their
 * positions, so a key's values keep the order they were emitted in), a
 * record per run of equal keys.
 */
function writePairs(path: string, keys: Key[], values: unknown[], strings: boolean): number {
  const order = new Uint32Array(keys.length);
  for (let i = 0; i < order.length; i++) order[i] = i;
  const sorted = Array.from(order);
  if (strings) {
    const k = keys as string[];
    sorted.sort((a, b) => (k[a]! < k[b]! ? -1 : k[a]! > k[b]! ? 1 : a - b));
  } else sorted.sort((a, b) => compareKeys(keys[a]!, keys[b]!) || a - b);
  const out = new RunWriter(path);
  try {
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
  } catch (err) {
    out.abort();
    throw err;
  }
  return out.close();
}

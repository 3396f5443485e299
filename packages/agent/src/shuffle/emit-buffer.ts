/**
 * The map side of a keyed job: what `ctx.emit` does. Pairs are grouped by
 * partition and key in a bounded buffer; when it holds about `limitBytes`
 * (or the map ends) it is spilled, each partition's keys sorted and, with a
 * `combine`, each key's values folded into one, as one sorted run per
 * partition in the job's folder (see ./run-file.ts). The map task's output
 * is then the manifest: which runs it left, for which partition, how big.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Key } from '@picompute/sdk';
import { encode } from '@picompute/sdk/codec';
import { checkKey, compareKeys, defaultPartition, showKey } from './keys.js';
import { writeRun } from './run-file.js';
import type { RunRecord } from './run-file.js';

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

export class EmitBuffer {
  readonly #groups: Map<Key, unknown[]>[];
  #bytes = 0;
  #spills = 0;
  readonly #runs: RunInfo[] = [];
  #pairs = 0;
  #bytesIn = 0;

  constructor(private readonly o: EmitBufferOptions) {
    this.#groups = Array.from({ length: o.partitions }, () => new Map());
    mkdirSync(o.dir, { recursive: true, mode: 0o700 });
  }

  emit(key: unknown, value: unknown): void {
    checkKey(key);
    const r = this.o.partitions;
    const p = this.o.partition ? this.o.partition(key, r) : defaultPartition(key, r);
    if (!(Number.isInteger(p) && p >= 0 && p < r)) {
      throw new RangeError(
        `partition(${showKey(key)}, ${r}) returned ${typeof p === 'string' ? JSON.stringify(p) : String(p)}; it must be a whole number from 0 to ${r - 1}`,
      );
    }
    const group = this.#groups[p]!;
    const values = group.get(key);
    const size = sizeOf(value) + (values ? 8 : sizeOf(key) + 64);
    if (values) values.push(value);
    else group.set(key, [value]);
    this.#bytes += size;
    this.#bytesIn += size;
    this.#pairs++;
    if (this.#bytes >= this.o.limitBytes) this.spill();
  }

  /** Writes what the buffer holds as one sorted run per partition that has any. */
  spill(): void {
    if (this.#bytes === 0) return;
    const spill = this.#spills++;
    for (let p = 0; p < this.#groups.length; p++) {
      const group = this.#groups[p]!;
      if (group.size === 0) continue;
      const keys = [...group.keys()].sort(compareKeys);
      const combine = this.o.combine;
      const records = function* (): Generator<RunRecord> {
        for (const k of keys) {
          const values = group.get(k)!;
          if (!combine || values.length < 2) {
            yield [k, values];
            continue;
          }
          const combined = combine(k, values);
          if (typeof (combined as { then?: unknown } | null)?.then === 'function') {
            throw new TypeError(
              `combine(${showKey(k)}, values) returned a Promise: combine runs while map emits, so it must return its value itself (no async, no await)`,
            );
          }
          yield [k, [combined]];
        }
      };
      const id = `${this.o.prefix}-s${spill}-p${p}`;
      const bytes = writeRun(join(this.o.dir, id), records());
      this.#runs.push({ p, id, bytes });
      group.clear();
    }
    this.#bytes = 0;
  }

  /** The map ended: spills the rest and says where everything is. */
  finish(): Manifest {
    this.spill();
    return { runs: this.#runs, pairs: this.#pairs, bytesIn: this.#bytesIn };
  }

  /** The map failed: its runs would only be in the way. */
  discard(): void {
    for (const g of this.#groups) g.clear();
    for (const r of this.#runs) rmSync(join(this.o.dir, r.id), { force: true });
    this.#runs.length = 0;
  }
}

/**
 * The reduce side's k-way merge: reads sorted runs at once (each through a
 * RunCursor: a chunk of bytes, only its head record's key decoded; the
 * cursors on a binary heap by that key) and gives each key once, in order,
 * with all its values from every run. Groups come out in batches: an await
 * per record or per key (an async generator's step) cost more than the
 * comparisons themselves in a sort of small records, so the loop awaits only
 * when a run's chunk is used up. A batch holds only whole groups, and values
 * are decoded as their record leaves the heap, so little more than the
 * current keys' values is on the heap at a time.
 */
import type { Key } from '@picompute/sdk';
import { RunCursor } from '@picompute/sdk/run-format';
import { compareKeys } from './keys.js';

/** A batch of groups ends here even when no run needs reading, so a caller's reduce keeps pace. */
const MAX_GROUPS_PER_BATCH = 4096;

interface Head {
  cursor: RunCursor;
  /** Ties go to the earlier run, so values keep the order the runs were given in. */
  order: number;
}

const before = (a: Head, b: Head) => {
  const c = compareKeys(a.cursor.key, b.cursor.key);
  return c < 0 || (c === 0 && a.order < b.order);
};

class Heap {
  readonly items: Head[] = [];
  push(h: Head): void {
    const a = this.items;
    a.push(h);
    for (let i = a.length - 1; i > 0; ) {
      const p = (i - 1) >> 1;
      if (!before(a[i]!, a[p]!)) break;
      [a[i], a[p]] = [a[p]!, a[i]!];
      i = p;
    }
  }
  /** The top's key moved on: restores the order from the root down. */
  siftDown(): void {
    const a = this.items;
    const n = a.length;
    for (let i = 0; ; ) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < n && before(a[l]!, a[m]!)) m = l;
      if (r < n && before(a[r]!, a[m]!)) m = r;
      if (m === i) break;
      [a[i], a[m]] = [a[m]!, a[i]!];
      i = m;
    }
  }
  removeTop(): void {
    const a = this.items;
    const last = a.pop()!;
    if (a.length) {
      a[0] = last;
      this.siftDown();
    }
  }
}

/** Merges runs (each a stream of its bytes, in chunks) into batches of [key, values] groups, keys ascending. */
export async function* mergeGroups(runs: AsyncIterable<Buffer>[], names: string[] = []): AsyncGenerator<[Key, unknown[]][]> {
  const heap = new Heap();
  await Promise.all(
    runs.map(async (r, order) => {
      const cursor = new RunCursor(r[Symbol.asyncIterator](), names[order] ?? `run ${order}`);
      if (await cursor.fill()) heap.push({ cursor, order });
    }),
  );
  let current: [Key, unknown[]] | undefined;
  let out: [Key, unknown[]][] = [];
  const items = heap.items;
  while (items.length) {
    const top = items[0]!;
    const cursor = top.cursor;
    const key = cursor.key;
    if (current && compareKeys(current[0], key) === 0) {
      const values = cursor.values();
      for (let i = 0; i < values.length; i++) current[1].push(values[i]);
    } else {
      if (current) out.push(current);
      current = [key, cursor.values()];
    }
    if (cursor.step()) heap.siftDown();
    else {
      if (out.length) {
        yield out;
        out = [];
      }
      if (await cursor.fill()) heap.siftDown();
      else heap.removeTop();
    }
    if (out.length >= MAX_GROUPS_PER_BATCH) {
      yield out;
      out = [];
    }
  }
  if (current) out.push(current);
  if (out.length) yield out;
}

/** The same merge, a group at a time (tests, small runs). */
export async function* mergeRuns(runs: AsyncIterable<Buffer>[]): AsyncGenerator<[Key, unknown[]]> {
  for await (const groups of mergeGroups(runs)) yield* groups;
}

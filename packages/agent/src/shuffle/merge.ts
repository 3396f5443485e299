/**
 * The reduce side's k-way merge: reads sorted runs at once (a batch of
 * records of each at a time, the heads on a binary heap) and gives each key
 * once, in order, with all its values from every run. Groups come out in
 * batches: an await per record or per key (an async generator's step) cost
 * more than the comparisons themselves in a sort of small records, so the
 * loop awaits only when a run's batch is used up. A batch holds only whole
 * groups, so only those keys' values are in memory at a time.
 */
import type { Key } from '@picompute/sdk';
import { compareKeys } from './keys.js';
import type { RunRecord } from './run-file.js';

/** A batch of groups ends here even when no run needs reading, so a caller's reduce keeps pace. */
const MAX_GROUPS_PER_BATCH = 4096;

interface Cursor {
  batch: RunRecord[];
  at: number;
  source: AsyncIterator<RunRecord[]>;
  /** Ties go to the earlier run, so values keep the order the runs were given in. */
  order: number;
}

const before = (a: Cursor, b: Cursor) => {
  const c = compareKeys(a.batch[a.at]![0], b.batch[b.at]![0]);
  return c < 0 || (c === 0 && a.order < b.order);
};

class Heap {
  readonly items: Cursor[] = [];
  push(h: Cursor): void {
    const a = this.items;
    a.push(h);
    for (let i = a.length - 1; i > 0; ) {
      const p = (i - 1) >> 1;
      if (!before(a[i]!, a[p]!)) break;
      [a[i], a[p]] = [a[p]!, a[i]!];
      i = p;
    }
  }
  /** The top's head moved on (or it was removed): restores the order from the root down. */
  siftDown(): void {
    const a = this.items;
    for (let i = 0; ; ) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < a.length && before(a[l]!, a[m]!)) m = l;
      if (r < a.length && before(a[r]!, a[m]!)) m = r;
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

async function nextBatch(source: AsyncIterator<RunRecord[]>): Promise<RunRecord[] | undefined> {
  for (;;) {
    const next = await source.next();
    if (next.done) return undefined;
    if (next.value.length) return next.value;
  }
}

/** Merges runs (each a stream of record batches in key order) into batches of [key, values] groups, keys ascending. */
export async function* mergeGroups(runs: AsyncIterable<RunRecord[]>[]): AsyncGenerator<[Key, unknown[]][]> {
  const heap = new Heap();
  await Promise.all(
    runs.map(async (r, order) => {
      const source = r[Symbol.asyncIterator]();
      const batch = await nextBatch(source);
      if (batch) heap.push({ batch, at: 0, source, order });
    }),
  );
  let current: [Key, unknown[]] | undefined;
  let out: [Key, unknown[]][] = [];
  const items = heap.items;
  while (items.length) {
    const top = items[0]!;
    const [key, values] = top.batch[top.at]!;
    if (current && compareKeys(current[0], key) === 0) for (const v of values) current[1].push(v);
    else {
      if (current) out.push(current);
      current = [key, values];
    }
    if (++top.at < top.batch.length) heap.siftDown();
    else {
      if (out.length) {
        yield out;
        out = [];
      }
      const batch = await nextBatch(top.source);
      if (batch) {
        top.batch = batch;
        top.at = 0;
        heap.siftDown();
      } else heap.removeTop();
    }
    if (out.length >= MAX_GROUPS_PER_BATCH) {
      yield out;
      out = [];
    }
  }
  if (current) out.push(current);
  if (out.length) yield out;
}

/** The same merge over record streams, a group at a time (tests, small runs). */
export async function* mergeRuns(runs: AsyncIterable<RunRecord>[]): AsyncGenerator<[Key, unknown[]]> {
  const batched = runs.map(async function* (r) {
    for await (const record of r) yield [record];
  });
  for await (const groups of mergeGroups(batched)) yield* groups;
}

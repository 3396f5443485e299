/**
 * The reduce side's k-way merge: reads sorted runs at once (a record of each
 * at a time, on a binary heap) and yields each key once, in order, with all
 * its values from every run. Only one key's values are in memory at a time.
 */
import type { Key } from '@picompute/sdk';
import { compareKeys } from './keys.js';
import type { RunRecord } from './run-file.js';

interface Head {
  record: RunRecord;
  source: AsyncIterator<RunRecord>;
  /** Ties go to the earlier run, so values keep the order the runs were given in. */
  order: number;
}

const before = (a: Head, b: Head) => {
  const c = compareKeys(a.record[0], b.record[0]);
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
  pop(): Head | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length && last) {
      a[0] = last;
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
    return top;
  }
}

export async function* mergeRuns(runs: AsyncIterable<RunRecord>[]): AsyncGenerator<[Key, unknown[]]> {
  const heap = new Heap();
  const advance = async (source: AsyncIterator<RunRecord>, order: number) => {
    const next = await source.next();
    if (!next.done) heap.push({ record: next.value, source, order });
  };
  await Promise.all(runs.map((r, i) => advance(r[Symbol.asyncIterator](), i)));
  let current: [Key, unknown[]] | undefined;
  for (let head = heap.pop(); head; head = heap.pop()) {
    const [key, values] = head.record;
    if (current && compareKeys(current[0], key) === 0) for (const v of values) current[1].push(v);
    else {
      if (current) yield current;
      current = [key, values];
    }
    await advance(head.source, head.order);
  }
  if (current) yield current;
}

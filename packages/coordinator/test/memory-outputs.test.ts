/**
 * A store whose state dies with its process (the embedded cluster) keeps map
 * outputs in memory: every read answers as the durable store's outputs table
 * does, nothing goes into that table, and they are forgotten where its rows
 * would be deleted.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../src/state/database.js';
import { OutputsByIndex } from '../src/state/outputs-by-index.js';
import { StateStore } from '../src/state/store.js';
import { NO_STATS } from '../src/state/rows.js';
import type { JobEnd } from '../src/state/store.js';

const request = { name: 'n', user: 'u', bundleHash: 'b' } as never;
const ended = (state: string): JobEnd => ({ ...NO_STATS, state, reason: '', error: '', result: undefined, startedAt: 1, endedAt: 2 });

const stores: StateStore[] = [];
afterEach(() => {
  for (const s of stores.splice(0)) s.close();
});

function open(durable: boolean): StateStore {
  const store = new StateStore(openDatabase(mkdtempSync(join(tmpdir(), 'picompute-outputs-')), { durable }), durable);
  stores.push(store);
  return store;
}

/** Outputs of tasks 0–9 except 3 and 7, finished out of order. */
function fill(store: StateStore): number {
  const id = store.insertJob(request, 10, Buffer.from('x'), 1);
  for (const i of [9, 0, 5, 1, 2, 8, 4, 6]) store.taskDone(id, i, 1, Buffer.from(`out ${i}`), 1);
  store.flush();
  return id;
}

const text = (b: Buffer[]) => b.map((x) => x.toString());

describe('map outputs of a store whose state dies with its process', () => {
  it('read back as the durable store reads them: all in order, pages from an index, by index', () => {
    const [durable, memory] = [open(true), open(false)];
    const reads = (store: StateStore) => {
      const id = fill(store);
      const page = store.outputPage(id, 4, 3);
      const byIndex = new OutputsByIndex(store.db, store.memoryOutputs).get(id);
      return {
        all: text(store.outputs(id)),
        page: page.map((r) => [r.idx, r.output.toString()]),
        tail: store.outputPage(id, 9, 100).map((r) => r.idx),
        past: store.outputPage(id, 10, 100),
        byIndex: { indices: byIndex.indices, values: text(byIndex.values) },
      };
    };
    const fromMemory = reads(memory);
    expect(fromMemory).toEqual(reads(durable));
    expect(fromMemory.all).toEqual(['out 0', 'out 1', 'out 2', 'out 4', 'out 5', 'out 6', 'out 8', 'out 9']);
    expect(fromMemory.page).toEqual([
      [4, 'out 4'],
      [5, 'out 5'],
      [6, 'out 6'],
    ]);
  });

  it('are not written to the outputs table, and are forgotten when the job ends without keeping them or is purged', () => {
    const store = open(false);
    const kept = fill(store);
    const dropped = fill(store);
    expect(store.db.prepare('SELECT count(*) FROM outputs').pluck().get()).toBe(0);
    store.endJob(kept, ended('COMPLETED'), true);
    store.endJob(dropped, ended('COMPLETED'), false);
    expect(store.outputs(kept)).toHaveLength(8);
    expect(store.outputs(dropped)).toEqual([]);
    expect(store.purge(Date.now() + 1)).toBe(2);
    expect(store.outputs(kept)).toEqual([]);
  });

  it("a fold job's map outputs (steps to its result, not the result) are not kept at all", () => {
    const store = open(false);
    const id = store.insertJob(request, 2, Buffer.from('x'), 1);
    store.taskDone(id, 0, 1, Buffer.from('folded away'), 1, false);
    store.flush();
    expect(store.outputs(id)).toEqual([]);
  });
});

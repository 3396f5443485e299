/**
 * The reduce side's k-way merge: reads sorted runs at once (each through a
 * RunCursor: a chunk of bytes, only its head record's key decoded; the
 * cursors in a tournament tree by that key) and gives each key once, in order,
 * with all its values from every run. Groups come out in batches: an await
 * per record or per key (an async generator's step) cost more than the
 * comparisons themselves in a sort of small records, so the loop awaits only
 * when a run's chunk is used up. A batch holds only whole groups, and values
 * are decoded as their record leaves the tree, so little more than the
 * current keys' values is on the heap at a time.
 */
import type { Key } from '@picompute/sdk';
import { RunCursor } from '@picompute/sdk/run-format';
import { compareKeys } from './keys.js';

/** A batch of groups ends here even when no run needs reading, so a caller's reduce keeps pace. */
const MAX_GROUPS_PER_BATCH = 4096;

/**
 * A tournament (loser) tree over the runs' head records: the node above two
 * contestants keeps the one that lost, so when the winner moves on to its
 * next record it replays only its own path to the root, one comparison a
 * level (a binary heap's sift compares both children: twice as many). Ties
 * go to the earlier run, so values keep the order the runs were given in. A
 * run that ended loses to everything.
 */
class LoserTree {
  /** [0]: the winner; [1..k-1]: the loser kept at each node. */
  readonly #nodes: Int32Array;
  readonly #ended: Uint8Array;

  constructor(
    private readonly cursors: RunCursor[],
    ended: boolean[],
  ) {
    const k = cursors.length;
    this.#ended = Uint8Array.from(ended, (e) => (e ? 1 : 0));
    // Every node starts with a contestant (k) that beats all, pushed out as each run plays its way up.
    this.#nodes = new Int32Array(Math.max(1, k)).fill(k);
    for (let i = k - 1; i >= 0; i--) this.replay(i);
  }

  get winner(): number {
    return this.#nodes[0]!;
  }

  /** Whether the winner's run has no records left (nor has any other: it still won). */
  get done(): boolean {
    const w = this.#nodes[0]!;
    return w >= this.cursors.length || this.#ended[w] === 1;
  }

  end(run: number): void {
    this.#ended[run] = 1;
  }

  /** Run `run`'s head changed (it was the winner): plays its path to the root again. */
  replay(run: number): void {
    const nodes = this.#nodes;
    let contender = run;
    for (let node = (run + this.cursors.length) >> 1; node > 0; node >>= 1) {
      const kept = nodes[node]!;
      if (this.#beats(kept, contender)) {
        nodes[node] = contender;
        contender = kept;
      }
    }
    nodes[0] = contender;
  }

  #beats(a: number, b: number): boolean {
    const k = this.cursors.length;
    if (a === k) return true;
    if (b === k) return false;
    if (this.#ended[a] === 1) return false;
    if (this.#ended[b] === 1) return true;
    const c = compareKeys(this.cursors[a]!.key, this.cursors[b]!.key);
    return c < 0 || (c === 0 && a < b);
  }
}

/** Merges runs (each a stream of its bytes, in chunks) into batches of [key, values] groups, keys ascending. */
export async function* mergeGroups(runs: AsyncIterable<Buffer>[], names: string[] = []): AsyncGenerator<[Key, unknown[]][]> {
  const cursors = runs.map((r, order) => new RunCursor(r[Symbol.asyncIterator](), names[order] ?? `run ${order}`));
  const ended = await Promise.all(cursors.map(async (cursor) => !(await cursor.fill())));
  const tree = new LoserTree(cursors, ended);
  let current: [Key, unknown[]] | undefined;
  let out: [Key, unknown[]][] = [];
  while (!tree.done) {
    const run = tree.winner;
    const cursor = cursors[run]!;
    const key = cursor.key;
    if (current && compareKeys(current[0], key) === 0) {
      const values = cursor.values();
      for (let i = 0; i < values.length; i++) current[1].push(values[i]);
    } else {
      if (current) out.push(current);
      current = [key, cursor.values()];
    }
    if (!cursor.step()) {
      if (out.length) {
        yield out;
        out = [];
      }
      if (!(await cursor.fill())) tree.end(run);
    }
    tree.replay(run);
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

/**
 * The nodes that can take work, best first by ./rank.ts, as a binary heap
 * over their remaining capacity: a placement and its re-ranking cost
 * O(log nodes), so a plan for 1,000 nodes stays cheap.
 */
import { fitsNow } from './feasibility.js';
import { byFreeShare } from './rank.js';
import type { JobSnapshot, NodeSnapshot } from './types.js';
import { fastestSpeed, usableSlots, weight, worthStarting } from './weights.js';

interface Entry {
  node: NodeSnapshot;
  id: string;
  cores: number;
  /** Core-slots usable now: the window's free ones, within the node's cap for its speed and throttling. */
  slots: number;
  memoryMb: number;
  weight: number;
  /** Core-slots it holds (running and queued), this plan's included. */
  held: number;
  /** Holds nothing yet: takes one batch whatever its cap, so a task wanting more cores than a throttled node's cap still runs. */
  idle: boolean;
}

export class NodeQueue {
  readonly #heap: Entry[];

  /** `fastest`: the fastest speed among all live nodes, full ones too (see ./weights.ts); default among these. */
  constructor(nodes: readonly NodeSnapshot[], fastest = fastestSpeed(nodes)) {
    const entries = nodes.map((node) => ({
      node,
      id: node.id,
      cores: node.cores,
      slots: usableSlots(node, fastest),
      memoryMb: node.freeMemoryMb,
      weight: weight(node, fastest),
      held: (node.window ?? 2 * node.cores) - node.freeSlots,
      idle: node.freeSlots >= (node.window ?? 2 * node.cores),
    }));
    // A node at its cap takes nothing this round.
    this.#heap = entries.filter((e) => e.slots > 0);
    for (let i = (this.#heap.length >> 1) - 1; i >= 0; i--) this.#down(i);
  }

  get size(): number {
    return this.#heap.length;
  }

  /**
   * Places one batch of `job` on the best node that fits it now and returns
   * that node's id, or undefined if none does. Nodes skipped on the way stay.
   * `capacity`: the job's whole capacity in fastest-core units, `left`: its
   * tasks not placed yet, `best`: the best weight among the nodes that could
   * run it (see ./weights.ts worthStarting); with no capacity given, every
   * fitting node is worth it.
   */
  place(job: JobSnapshot, capacity = Infinity, left = job.runnable, best = 1): string | undefined {
    const skipped: Entry[] = [];
    let chosen: Entry | undefined;
    while (this.#heap.length) {
      const top = this.#heap[0]!;
      const slots = top.idle ? Math.max(top.slots, Math.min(top.node.freeSlots, job.coresPerTask)) : top.slots;
      if (!job.avoid?.has(top.id) && fitsNow(top.node, slots, top.memoryMb, job) && worthStarting(top, left, capacity, best)) {
        chosen = top;
        break;
      }
      skipped.push(this.#pop());
    }
    if (chosen) {
      chosen.slots -= job.coresPerTask;
      chosen.memoryMb -= job.memoryMb;
      chosen.held += job.coresPerTask;
      chosen.idle = false;
      if (chosen.slots <= 0) this.#pop();
      else this.#down(0);
    }
    for (const e of skipped) this.#push(e);
    return chosen?.id;
  }

  #pop(): Entry {
    const h = this.#heap;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length) {
      h[0] = last;
      this.#down(0);
    }
    return top;
  }

  #push(e: Entry): void {
    const h = this.#heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (byFreeShare(h[i]!, h[parent]!) >= 0) break;
      [h[i], h[parent]] = [h[parent]!, h[i]!];
      i = parent;
    }
  }

  #down(i: number): void {
    const h = this.#heap;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let best = i;
      if (l < h.length && byFreeShare(h[l]!, h[best]!) < 0) best = l;
      if (r < h.length && byFreeShare(h[r]!, h[best]!) < 0) best = r;
      if (best === i) return;
      [h[i], h[best]] = [h[best]!, h[i]!];
      i = best;
    }
  }
}

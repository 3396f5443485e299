/**
 * The feasible nodes, best first by the ranking in ./rank.ts, as a binary
 * heap: taking a batch slot and re-ranking costs O(log nodes), so a plan for
 * 1,000 nodes stays cheap.
 */
import { byFreeShare } from './rank.js';
import type { NodeSnapshot } from './types.js';

export class NodeQueue {
  readonly #heap: NodeSnapshot[];
  readonly #slots: Map<string, number>;

  constructor(nodes: readonly NodeSnapshot[]) {
    this.#slots = new Map(nodes.map((n) => [n.id, n.freeSlots]));
    this.#heap = [...nodes];
    for (let i = (this.#heap.length >> 1) - 1; i >= 0; i--) this.#down(i);
  }

  get size(): number {
    return this.#heap.length;
  }

  /** The best node, or undefined when every window is full. */
  peek(): NodeSnapshot | undefined {
    return this.#heap[0];
  }

  /** Uses one slot of the best node and re-ranks it (dropping it when full): its rank can only fall. */
  take(): void {
    const top = this.#heap[0]!;
    const left = this.#slots.get(top.id)! - 1;
    this.#slots.set(top.id, left);
    if (left <= 0) {
      const last = this.#heap.pop()!;
      if (this.#heap.length === 0) return;
      this.#heap[0] = last;
    }
    this.#down(0);
  }

  #less(a: NodeSnapshot, b: NodeSnapshot): boolean {
    return byFreeShare(a, b, this.#slots) < 0;
  }

  #down(i: number): void {
    const h = this.#heap;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let best = i;
      if (l < h.length && this.#less(h[l]!, h[best]!)) best = l;
      if (r < h.length && this.#less(h[r]!, h[best]!)) best = r;
      if (best === i) return;
      [h[i], h[best]] = [h[best]!, h[i]!];
      i = best;
    }
  }
}

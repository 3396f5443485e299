/**
 * The tasks of a job waiting for a node, in index order, as a cursor over
 * the task indices instead of an array of them (8 bytes a task for a job of
 * millions); tasks that must run again (a lost node, a retry) queue behind.
 * A task can be held (its input chunk has not arrived, ../chunk-gate.ts):
 * the cursor passes it by, and it queues behind once released.
 */
export class PendingQueue {
  #next = 0;
  #fresh: number;
  #again: number[] = [];
  readonly #waiting = new Set<number>();
  /** Fresh indices taken out of turn (a task an agent already runs, adopted); skipped when the cursor reaches them. */
  readonly #removed = new Set<number>();

  /** `skip(i)`: a task already done (a restarted coordinator's job), never handed out. */
  constructor(
    private readonly total: number,
    private readonly skip: (index: number) => boolean = () => false,
    doneAlready = 0,
  ) {
    this.#fresh = total - doneAlready;
  }

  get length(): number {
    return this.#fresh + this.#again.length;
  }

  /**
   * Up to `count` task indices, fresh ones first, and no more than fit in
   * `budget` by `size` (at least one, whatever its size: it goes alone).
   */
  take(count: number, size: (index: number) => number = () => 0, budget = Infinity): number[] {
    const out: number[] = [];
    let used = 0;
    const fits = (i: number) => out.length === 0 || used + size(i) <= budget;
    while (out.length < count && this.#fresh > 0 && this.#next < this.total) {
      const i = this.#next;
      if (this.skip(i) || this.#removed.delete(i)) {
        this.#next++;
        continue;
      }
      if (this.#waiting.size && this.#waiting.has(i)) {
        this.#next++;
        continue;
      }
      if (!fits(i)) return out;
      used += size(i);
      this.#next++;
      this.#fresh--;
      out.push(i);
    }
    while (out.length < count && this.#again.length && fits(this.#again[0]!)) {
      used += size(this.#again[0]!);
      out.push(this.#again.shift()!);
    }
    return out;
  }

  /** Fresh tasks not handed out (nor counted in `length`) until released. */
  hold(indices: Iterable<number>): void {
    for (const i of indices) {
      if (i < this.#next || this.skip(i) || this.#waiting.has(i) || this.#removed.has(i)) continue;
      this.#waiting.add(i);
      this.#fresh--;
    }
  }

  /** A held task may run: taken in its turn, or behind the others if the cursor passed it by. */
  release(index: number): void {
    if (!this.#waiting.delete(index)) return;
    if (index >= this.#next) this.#fresh++;
    else this.#again.push(index);
  }

  /** Tasks held, waiting for their release. */
  get held(): number {
    return this.#waiting.size;
  }

  /** Takes a waiting task out of the queue; false if it was not waiting. */
  remove(index: number): boolean {
    // A held task left `length` when it was held; the cursor must still pass it by.
    if (this.#waiting.delete(index)) {
      if (index >= this.#next) this.#removed.add(index);
      return true;
    }
    if (index >= this.#next && index < this.total && this.#fresh > 0 && !this.skip(index) && !this.#removed.has(index)) {
      this.#removed.add(index);
      this.#fresh--;
      return true;
    }
    const at = this.#again.indexOf(index);
    if (at < 0) return false;
    this.#again.splice(at, 1);
    return true;
  }

  /** A task to run again. */
  push(index: number): void {
    this.#again.push(index);
  }

  clear(): void {
    this.#fresh = 0;
    this.#again = [];
    this.#waiting.clear();
    this.#removed.clear();
  }
}

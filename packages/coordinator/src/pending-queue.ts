/**
 * The tasks of a job waiting for a node, in index order, as a cursor over
 * the task indices instead of an array of them (8 bytes a task for a job of
 * millions); tasks that must run again (a lost node, a retry) queue behind.
 */
export class PendingQueue {
  #next = 0;
  #fresh: number;
  #again: number[] = [];
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

  /** Takes a waiting task out of the queue; false if it was not waiting. */
  remove(index: number): boolean {
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
    this.#removed.clear();
  }
}

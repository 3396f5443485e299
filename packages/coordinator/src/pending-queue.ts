/**
 * The tasks of a job waiting for a node, in index order, as a cursor over
 * the task indices instead of an array of them (8 bytes a task for a job of
 * millions); tasks that must run again (a lost node, a retry) queue behind.
 */
export class PendingQueue {
  #next = 0;
  #fresh: number;
  #again: number[] = [];

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

  /** Up to `count` task indices, fresh ones first. */
  take(count: number): number[] {
    const out: number[] = [];
    while (out.length < count && this.#fresh > 0 && this.#next < this.total) {
      const i = this.#next++;
      if (this.skip(i)) continue;
      this.#fresh--;
      out.push(i);
    }
    while (out.length < count && this.#again.length) out.push(this.#again.shift()!);
    return out;
  }

  /** A task to run again. */
  push(index: number): void {
    this.#again.push(index);
  }

  clear(): void {
    this.#fresh = 0;
    this.#again = [];
  }
}

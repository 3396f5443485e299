/**
 * Queued jobs set aside between the loop's rounds, so 10,000 of them that no
 * node can take do not cost every round (a submit, a finished batch) a
 * snapshot, a filter and a reason each: a round with them all took 3–4 ms.
 *
 * A job is parked after a round that placed none of its tasks when it is
 * PENDING with nothing running and no node that can take work fits its
 * shape (constraint, cores per task, memory); ./reconcile.ts leaves such a
 * job out of the plan anyway, and nodes only fill up during a round. It
 * comes back when anything about it changes (`touch`: a cancel, its
 * dependency) or when a node fits its shape again (`release`, asked once per
 * shape and round). Its reason (Resources, Priority, NoNodes) depends only on
 * its priority and on what runs, so the cluster asks again only when that
 * changes. No I/O and no clock, as for the rest of the scheduler.
 */
import type { LiveJob } from './reconcile.js';

export class Parking<J> {
  /** The live jobs not parked: each round snapshots these only. */
  readonly #active = new Set<J>();
  readonly #byShape = new Map<string, Map<J, LiveJob>>();
  readonly #shapeOf = new Map<J, string>();
  /** How many parked jobs have each priority: whether a change of what runs can change any parked job's reason. */
  readonly #priorities = new Map<number, number>();

  /** A new live job. */
  add(job: J): void {
    this.#active.add(job);
  }

  /** The job ended. */
  remove(job: J): void {
    this.#active.delete(job);
    this.#unpark(job);
  }

  /** The job changed: it takes part in the next round again. */
  touch(job: J): void {
    if (this.#unpark(job)) this.#active.add(job);
  }

  park(job: J, snapshot: LiveJob): void {
    if (!this.#active.delete(job)) return;
    const shape = shapeOf(snapshot);
    let jobs = this.#byShape.get(shape);
    if (!jobs) this.#byShape.set(shape, (jobs = new Map()));
    jobs.set(job, snapshot);
    this.#shapeOf.set(job, shape);
    this.#priorities.set(snapshot.priority, (this.#priorities.get(snapshot.priority) ?? 0) + 1);
  }

  /** Brings back every parked job of a shape that `fits` now (asked once per shape). */
  release(fits: (snapshot: LiveJob) => boolean): void {
    for (const [shape, jobs] of this.#byShape) {
      const first = jobs.values().next().value as LiveJob;
      if (!fits(first)) continue;
      this.#byShape.delete(shape);
      for (const [job, snapshot] of jobs) {
        this.#shapeOf.delete(job);
        this.#lessOf(snapshot.priority);
        this.#active.add(job);
      }
    }
  }

  active(): IterableIterator<J> {
    return this.#active.values();
  }

  *parked(): IterableIterator<[J, LiveJob]> {
    for (const jobs of this.#byShape.values()) yield* jobs;
  }

  get parkedCount(): number {
    return this.#shapeOf.size;
  }

  /** Some parked job has a priority `p` with from <= p < to (a running priority moving across it changes its reason). */
  anyPriorityIn(from: number, to: number): boolean {
    for (const p of this.#priorities.keys()) if (from <= p && p < to) return true;
    return false;
  }

  #lessOf(priority: number): void {
    const n = this.#priorities.get(priority)! - 1;
    if (n === 0) this.#priorities.delete(priority);
    else this.#priorities.set(priority, n);
  }

  #unpark(job: J): boolean {
    const shape = this.#shapeOf.get(job);
    if (shape === undefined) return false;
    this.#shapeOf.delete(job);
    const jobs = this.#byShape.get(shape)!;
    this.#lessOf(jobs.get(job)!.priority);
    jobs.delete(job);
    if (jobs.size === 0) this.#byShape.delete(shape);
    return true;
  }
}

/** Constraint, cores per task and memory: what decides whether a node fits a job. */
function shapeOf(j: LiveJob): string {
  return `${j.constraint ?? ''}\0${j.coresPerTask}\0${j.memoryMb}`;
}

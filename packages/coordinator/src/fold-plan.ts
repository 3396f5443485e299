/**
 * How a fold job's map outputs become its result. With few tasks, one REDUCE
 * task folds them all (then finalize). With more, outputs are folded in
 * groups of consecutive indices as soon as a group is complete (COMBINE
 * tasks, running beside the remaining map tasks), and the REDUCE task folds
 * only the group results: the serial tail after the last map task shrinks
 * from all outputs to a handful. This relies on the fold's contract (see
 * `FoldJob` in the SDK): `reduce` is associative and `initial` its identity.
 *
 * A COMBINE task is named by its group (see ./jobs/task-id.ts).
 */
/** Jobs with at most this many tasks fold once, without groups. */
const MIN_GROUP = 8;
const MAX_GROUPS = 16;

export type FinalState = 'waiting' | 'pending' | 'running' | 'done';

export class FoldPlan {
  readonly groupSize: number;
  readonly groups: number;
  readonly partials: (Buffer | undefined)[];
  /** Groups whose outputs are all in, waiting for a COMBINE task. */
  ready: number[] = [];
  final: FinalState = 'waiting';
  readonly #missing: Uint32Array;
  #combined = 0;

  constructor(readonly total: number) {
    this.groupSize = Math.max(MIN_GROUP, Math.ceil(total / MAX_GROUPS));
    this.groups = Math.max(1, Math.ceil(total / this.groupSize));
    this.partials = new Array(this.groups);
    this.#missing = new Uint32Array(this.groups);
    for (let g = 0; g < this.groups; g++) this.#missing[g] = Math.min(this.groupSize, total - g * this.groupSize);
    if (total === 0) this.final = 'pending';
  }

  get grouped(): boolean {
    return this.groups > 1;
  }

  /** Indices of a group's map tasks. */
  members(group: number): [number, number] {
    return [group * this.groupSize, Math.min(this.total, (group + 1) * this.groupSize)];
  }

  /** A map output arrived (once per index). */
  outputDone(index: number, allDone: boolean): void {
    const g = Math.floor(index / this.groupSize);
    if (--this.#missing[g]! === 0 && this.grouped) this.ready.push(g);
    if (allDone && !this.grouped) this.final = 'pending';
  }

  /** A group's COMBINE result arrived. */
  combined(group: number, partial: Buffer): void {
    if (this.partials[group]) return;
    this.partials[group] = partial;
    if (++this.#combined === this.groups) this.final = 'pending';
  }

  /** Work the fold has ready: COMBINE tasks and the REDUCE task. */
  get runnable(): number {
    return this.ready.length + (this.final === 'pending' ? 1 : 0);
  }
}

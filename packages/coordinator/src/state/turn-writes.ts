/**
 * The store's writes from the hot path (task results, attempts, log lines,
 * a job's end), queued and committed together once per event-loop turn: one
 * transaction, one WAL append, however many tasks finished in the turn.
 *
 * A commit that meets a full disk is rolled back and each write is tried on
 * its own, so a job whose writes fit keeps them and the jobs whose writes did
 * not are named (`notStored`) for the cluster to fail. Until space is back,
 * every turn's writes go that way, under one budget for values.
 */
import type Database from 'better-sqlite3';
import { isDiskFull, RESERVE_BYTES } from './disk-space.js';

/** A queued write and the job it belongs to (which fails if the write cannot be stored). */
export interface Op {
  job: number;
  run: () => void;
  /** Bytes of values it writes (task outputs, log lines), so a full disk's last room goes to small writes. */
  bytes?: number;
  /** A job's final row: tried even when the job's other writes were lost. */
  end?: boolean;
}

export class TurnWrites {
  readonly #queue: Op[] = [];
  #scheduled = false;
  /** Jobs that lost writes to a full disk, until they end. */
  readonly lost = new Set<number>();
  /**
   * While the disk is full: the bytes of values (outputs, log lines) that
   * writes may still take from the reserve, across every turn until space
   * is back. A budget per turn let a trickle of outputs (a loaded machine's
   * results, a turn each) use up the reserve again, and deleting the failed
   * job's outputs then found no room: the disk stayed full for good.
   */
  #budget: number | undefined;

  constructor(
    private readonly db: Database.Database,
    private readonly hooks: {
      /** The disk filled: give back the reserve before single writes are tried. */
      filled(): void;
      /** Told in a later turn which jobs lost writes. */
      notStored(jobs: Set<number>): void;
      /** After each commit, whether it succeeded or not. */
      committed(): void;
    },
  ) {}

  /** The write queued last, not yet committed (one that later writes of the same kind may join). */
  get last(): Op | undefined {
    return this.#queue[this.#queue.length - 1];
  }

  /** Queues `op` for the commit at the end of this turn. */
  later(op: Op): void {
    this.#queue.push(op);
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.flush();
    });
  }

  flush(): void {
    if (this.#queue.length === 0) return;
    const ops = this.#queue.splice(0);
    try {
      if (this.#budget !== undefined) this.#oneByOne(ops);
      else this.#together(ops);
    } finally {
      this.hooks.committed();
    }
  }

  /** The disk is full (found by a commit here, or by an upload): writes go one by one, under the budget, until spaceBack. */
  diskFull(): void {
    this.#budget ??= RESERVE_BYTES / 4;
  }

  /** The store wrote its reserve again: the disk has room, and a turn's writes commit together again. */
  spaceBack(): void {
    this.#budget = undefined;
  }

  #together(ops: Op[]): void {
    try {
      this.db.transaction(() => {
        for (const op of ops) op.run();
      })();
    } catch (err) {
      if (!isDiskFull(err)) throw err;
      this.#oneByOne(ops);
    }
  }

  /**
   * The turn's commit failed for want of disk (and was rolled back). With the
   * reserve given back, each write is tried on its own, so a job whose writes
   * fit (its end, a log line) keeps them; the jobs whose writes did not fit
   * are named to the cluster, which fails them. Writes of values may use only
   * a quarter of the reserve between them, in this turn and the next ones
   * until space is back: the rest is for ending those jobs and deleting their
   * outputs, which needs room in the WAL too. A job that lost writes writes no
   * more values (it fails; only its end is written).
   */
  #oneByOne(ops: Op[]): void {
    this.diskFull();
    this.hooks.filled();
    const lost = new Set<number>();
    for (const op of ops) {
      if ((lost.has(op.job) || this.lost.has(op.job)) && !op.end) continue;
      if ((op.bytes ?? 0) > this.#budget!) {
        lost.add(op.job);
        continue;
      }
      this.#budget! -= op.bytes ?? 0;
      try {
        this.db.transaction(op.run)();
      } catch (err) {
        if (!isDiskFull(err)) throw err;
        if (!op.end) lost.add(op.job);
      }
    }
    for (const id of lost) this.lost.add(id);
    // In a later turn: the cluster ends those jobs, which writes again.
    if (lost.size) setImmediate(() => this.hooks.notStored(lost));
  }
}

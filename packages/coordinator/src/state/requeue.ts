/**
 * What `picompute requeue ID --failed` reads and rewrites: an ended job's
 * tasks (inputs and the outputs of those that succeeded; a job that did
 * not complete keeps its inputs until --keep purges it, see
 * StateStore.endJob) and its row, set back to PENDING under the same id,
 * as Slurm's `scontrol requeue` keeps the id.
 */
import type Database from 'better-sqlite3';
import { InputParts } from './input-parts.js';
import type { JobRow, TaskRow } from './store.js';

export class RequeueStore {
  readonly #tasks;
  readonly #reopen;

  constructor(db: Database.Database) {
    this.#tasks = new InputParts(db);
    this.#reopen = db.prepare("UPDATE jobs SET state = 'PENDING', reason = '', error = '', started_at = 0, ended_at = 0, result = NULL WHERE id = @job");
  }

  /**
   * The job's tasks, every attempt count at 0: a requeued task starts afresh (its node-loss and --retries budgets too).
   * A keyed job's maps run again: their runs left the agents' disks when the job ended.
   */
  tasks(jobId: number): TaskRow[] {
    return this.#tasks.tasks(jobId).map((t) => ({ ...t, attempts: 0, node: '' }));
  }

  /** The job's row as it is once set back to PENDING. */
  reopen(row: JobRow): JobRow {
    this.#reopen.run({ job: row.id });
    return { ...row, state: 'PENDING', reason: '', error: '', started_at: 0, ended_at: 0 };
  }
}

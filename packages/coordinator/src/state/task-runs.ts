/**
 * The per-task view of ended jobs (`picompute tasks ID`): a job's TaskTable
 * stored as one row of byte columns when it ends. Its own table, created
 * if missing, so databases written before it need no migration; deleted
 * with its job (ON DELETE CASCADE) by --keep's purge.
 */
import type Database from 'better-sqlite3';
import type { TaskColumns } from '../task-table.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS task_runs (
  job_id      INTEGER PRIMARY KEY REFERENCES jobs(id) ON DELETE CASCADE,
  nodes       TEXT NOT NULL,
  state       BLOB NOT NULL,
  attempt     BLOB NOT NULL,
  node        BLOB NOT NULL,
  started_at  BLOB NOT NULL,
  run_ms      BLOB NOT NULL,
  heap_mb     BLOB NOT NULL
);`;

export class TaskRuns {
  readonly #put;
  readonly #get;

  constructor(db: Database.Database) {
    db.exec(SCHEMA);
    this.#put = db.prepare(
      'INSERT OR REPLACE INTO task_runs (job_id, nodes, state, attempt, node, started_at, run_ms, heap_mb) VALUES (@job, @nodes, @state, @attempt, ' +
        '@node, @startedAt, @runMs, @heapMb)',
    );
    this.#get = db.prepare(
      'SELECT nodes, state, attempt, node, started_at AS startedAt, run_ms AS runMs, heap_mb AS heapMb FROM task_runs WHERE job_id = @job',
    );
  }

  save(jobId: number, c: TaskColumns): void {
    this.#put.run({ ...c, job: jobId });
  }

  load(jobId: number): TaskColumns | undefined {
    return this.#get.get({ job: jobId }) as TaskColumns | undefined;
  }
}

/**
 * A job's inputs on disk as parts: up to PART_TASKS inputs (or about
 * PART_BYTES) end to end in one row, each a 4-byte big-endian length then
 * its bytes, as they arrive in a submit (@picompute/sdk/framing). A row per
 * input cost a durable coordinator ~4 µs per task to insert and ~2 µs more
 * to delete and vacuum once the job completed: a quarter of its time per
 * tiny task (W1 through real daemons), and more pages written to an SD card.
 *
 * A task's attempt count (written only for re-runs) has a small table of
 * its own. Jobs stored before schema 3 keep their row per input in `tasks`,
 * which is still read (and deleted) as before.
 */
import type Database from 'better-sqlite3';
import type { TaskRow } from './store.js';

/** Schema 3's tables (made by ./schema.ts on a new database, by the migration on an older one). */
export const INPUT_PARTS_SCHEMA = `
CREATE TABLE IF NOT EXISTS input_parts (
  job_id  INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
  first   INTEGER NOT NULL,   -- the task index of its first input
  frames  BLOB NOT NULL       -- the inputs end to end, each a 4-byte big-endian length then its bytes
);
CREATE UNIQUE INDEX IF NOT EXISTS input_parts_job ON input_parts(job_id, first);
CREATE TABLE IF NOT EXISTS task_attempts (
  job_id    INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
  idx       INTEGER NOT NULL,
  attempts  INTEGER NOT NULL,
  PRIMARY KEY (job_id, idx)
) WITHOUT ROWID;
`;

const PART_TASKS = 256;
const PART_BYTES = 1 << 20;

export class InputParts {
  readonly #s;

  constructor(db: Database.Database) {
    const p = (sql: string) => db.prepare(sql);
    this.#s = {
      insert: p('INSERT INTO input_parts (job_id, first, frames) VALUES (?, ?, ?)'),
      parts: p('SELECT frames FROM input_parts WHERE job_id = ? ORDER BY first').pluck(),
      // Jobs stored before schema 3: a row per input.
      rows: p('SELECT idx, input, attempts FROM tasks WHERE job_id = ? ORDER BY idx'),
      attempt: p('INSERT OR REPLACE INTO task_attempts (job_id, idx, attempts) VALUES (?, ?, ?)'),
      attempts: p('SELECT idx, attempts FROM task_attempts WHERE job_id = ?'),
      outputs: p('SELECT idx, attempts, output, node FROM outputs WHERE job_id = ?'),
    };
  }

  /**
   * Stores the inputs from index `from` on, a part at a time, until all are
   * in or `deadline` (performance.now()) has passed; returns the index to go
   * on from. The caller holds the transaction.
   */
  insert(jobId: number, inputs: { readonly count: number; get(index: number): Buffer }, from: number, deadline: number): number {
    let i = from;
    while (i < inputs.count) {
      const first = i;
      let bytes = 0;
      const end = Math.min(inputs.count, i + PART_TASKS);
      for (; i < end && (i === first || bytes < PART_BYTES); i++) bytes += 4 + inputs.get(i).length;
      const frames = Buffer.allocUnsafe(bytes);
      let at = 0;
      for (let k = first; k < i; k++) {
        const input = inputs.get(k);
        frames.writeUInt32BE(input.length, at);
        input.copy(frames, at + 4);
        at += 4 + input.length;
      }
      this.#s.insert.run(jobId, first, frames);
      if (performance.now() > deadline) break;
    }
    return i;
  }

  /** A task runs again: its attempt count, kept so re-runs stay capped across restarts. */
  attempt(jobId: number, index: number, attempts: number): void {
    this.#s.attempt.run(jobId, index, attempts);
  }

  /**
   * The job's stored tasks in index order: each input (views into its
   * part), its attempts so far and, if it finished, its output. As many as
   * the inputs stored (fewer than the job's tasks when a submit was cut short).
   */
  tasks(jobId: number): TaskRow[] {
    const tasks: TaskRow[] = [];
    for (const frames of this.#s.parts.all(jobId) as Buffer[]) {
      for (let at = 0; at < frames.length; ) {
        const length = frames.readUInt32BE(at);
        tasks.push({ idx: tasks.length, input: frames.subarray(at + 4, at + 4 + length), attempts: 0, done: 0, output: null, node: '' });
        at += 4 + length;
      }
    }
    if (tasks.length === 0) {
      for (const r of this.#s.rows.iterate(jobId) as Iterable<{ idx: number; input: Buffer; attempts: number }>) {
        tasks.push({ idx: r.idx, input: r.input, attempts: r.attempts, done: 0, output: null, node: '' });
      }
    }
    for (const r of this.#s.attempts.iterate(jobId) as Iterable<{ idx: number; attempts: number }>) {
      const t = tasks[r.idx];
      if (t) t.attempts = Math.max(t.attempts, r.attempts);
    }
    for (const r of this.#s.outputs.iterate(jobId) as Iterable<{ idx: number; attempts: number; output: Buffer; node: string | null }>) {
      const t = tasks[r.idx];
      if (!t) continue;
      t.attempts = Math.max(t.attempts, r.attempts);
      t.done = 1;
      t.output = r.output;
      t.node = r.node ?? '';
    }
    return tasks;
  }
}

/**
 * Gives disk space back in the background: rows nobody will read again
 * (inputs of ended jobs, outputs of jobs that failed and map outputs of fold
 * jobs, whole jobs past --keep) are deleted a few hundred rows at a time, and
 * the pages they leave free are handed back to the file system with
 * `PRAGMA incremental_vacuum` (the database uses auto_vacuum=INCREMENTAL; see
 * ./migrations.ts), a slice of at most SLICE_MS per event-loop turn.
 *
 * Why slices: one DELETE of a job with 300,000 outputs (or a purge of many)
 * holds the event loop for tens of seconds, and with it heartbeats, submits
 * and start-up (a purge at start-up once took 43 s). Why vacuum: SQLite keeps
 * freed pages inside the file, so a 1.35 GB database stayed 1.35 GB with
 * 99.99 % of its pages free.
 */
import { statSync } from 'node:fs';
import type Database from 'better-sqlite3';
import { formatBytes } from '@picompute/sdk/units';
import { isDiskFull } from './disk-space.js';
import type { DiskSpace } from './disk-space.js';

/** What to drop of a job: its inputs, its outputs, or everything (purge). */
export type Drop = 'inputs' | 'outputs' | 'job';

const SLICE_MS = 10;
const ROWS_PER_STEP = 256;
const PAGES_PER_STEP = 256;
const RETRY_WHEN_FULL_MS = 2000;

export class Reclaimer {
  readonly #queue: { jobId: number; what: Drop }[] = [];
  readonly #s;
  #scheduled = false;
  #vacuum = false;
  /** This round of vacuum gave pages back: the file shrank, and a checkpoint shows it on disk. */
  #shrank = false;
  #paused: NodeJS.Timeout | undefined;
  #closed = false;
  #idle: (() => void)[] = [];
  /** Slices run so far (tests check that a big purge took many). */
  slices = 0;
  #bytesAtStart = 0;

  constructor(
    private readonly db: Database.Database,
    private readonly log: (line: string) => void,
    private readonly disk: Pick<DiskSpace, 'full' | 'mayGrow'> & { filled(): void },
  ) {
    const p = (sql: string) => db.prepare(sql);
    this.#s = {
      outputs: p('DELETE FROM outputs WHERE job_id = @job AND idx IN (SELECT idx FROM outputs WHERE job_id = @job LIMIT @rows)'),
      inputs: p('DELETE FROM tasks WHERE job_id = @job AND idx IN (SELECT idx FROM tasks WHERE job_id = @job LIMIT @rows)'),
      // A part holds up to 256 inputs (./input-parts.ts): fewer rows a step.
      inputParts: p('DELETE FROM input_parts WHERE rowid IN (SELECT rowid FROM input_parts WHERE job_id = @job LIMIT @rows / 32)'),
      attempts: p('DELETE FROM task_attempts WHERE job_id = @job AND idx IN (SELECT idx FROM task_attempts WHERE job_id = @job LIMIT @rows)'),
      logs: p('DELETE FROM logs WHERE rowid IN (SELECT rowid FROM logs WHERE job_id = @job LIMIT @rows)'),
      job: p('DELETE FROM jobs WHERE id = @job'),
      freePages: p('PRAGMA freelist_count').pluck(),
      pages: p('PRAGMA page_count').pluck(),
      pageSize: p('PRAGMA page_size').pluck(),
    };
  }

  /** Queues a job's rows for deletion. */
  drop(jobId: number, what: Drop): void {
    if (this.#queue.length === 0 && !this.#vacuum) this.#bytesAtStart = this.#fileBytes();
    this.#queue.push({ jobId, what });
    this.#schedule();
  }

  /** Resolves when everything queued is deleted and the free pages are given back. */
  idle(): Promise<void> {
    if (!this.#busy()) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#paused);
  }

  #busy(): boolean {
    return this.#queue.length > 0 || this.#vacuum;
  }

  #schedule(): void {
    if (this.#scheduled || this.#closed || this.#paused) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.#slice();
    });
  }

  #slice(): void {
    if (this.#closed) return;
    this.slices++;
    const deadline = performance.now() + SLICE_MS;
    try {
      while (this.#busy() && performance.now() < deadline) this.#step();
    } catch (err) {
      if (!isDiskFull(err)) throw err;
      // Deleting needs WAL space too: let the store give back its reserve, and try again in a while.
      this.disk.filled();
      this.#paused = setTimeout(() => {
        this.#paused = undefined;
        this.#schedule();
      }, RETRY_WHEN_FULL_MS).unref();
      return;
    }
    if (this.#busy()) {
      this.#schedule();
      return;
    }
    this.#report();
    for (const resolve of this.#idle.splice(0)) resolve();
  }

  /** One bounded piece of work: a few hundred rows, or a few hundred pages. */
  #step(): void {
    const next = this.#queue[0];
    if (!next) {
      const before = this.#s.freePages.get() as number;
      this.db.exec(`PRAGMA incremental_vacuum(${PAGES_PER_STEP})`);
      const after = this.#s.freePages.get() as number;
      if (after < before) this.#shrank = true;
      // Done, or a database not (yet) switched to incremental auto-vacuum, where the pragma does nothing.
      if (after === 0 || after >= before) {
        this.#vacuum = false;
        // Checkpoint now so the shrunk file shows on disk without waiting for the next 1,000 pages of
        // writes (none come while the disk is full, and then the WAL file gives its room back too). Not when
        // nothing shrank: a small job's end frees no page, and a checkpoint there (the WAL's pages copied
        // into the database file, and an fsync) cost every 1-task job ~0.7 ms of the coordinator's CPU.
        if (this.disk.full) {
          if (this.#checkpointFits()) this.db.pragma('wal_checkpoint(TRUNCATE)');
        } else if (this.#shrank) this.db.pragma('wal_checkpoint(PASSIVE)');
        this.#shrank = false;
      }
      return;
    }
    const { jobId, what } = next;
    const inputs = ['inputs', 'inputParts', 'attempts'] as const;
    const order = what === 'job' ? (['outputs', ...inputs, 'logs'] as const) : what === 'inputs' ? inputs : ([what] as const);
    for (const table of order) {
      if (this.#s[table].run({ job: jobId, rows: ROWS_PER_STEP }).changes > 0) return;
    }
    if (what === 'job') this.#s.job.run({ job: jobId });
    this.#queue.shift();
    this.#vacuum = true;
  }

  /**
   * On a full disk, whether a checkpoint leaves half the reserve free. It
   * copies into the database file every page committed to the WAL, growing
   * the file by the pages past its end. Before the failed job is deleted
   * those are its last outputs, megabytes: a checkpoint at the end of
   * another job's reclaim once grew the file into the whole reserve, the
   * failed job's end and deletion found no room, and the disk stayed full
   * for good (CI). After the deletion and vacuum, only the few pages of a
   * database that never had a checkpoint remain past the end, and the
   * checkpoint then gives the WAL's room back (18 MB in CI's case).
   */
  #checkpointFits(): boolean {
    const growth = this.#fileBytes() - statSync(this.db.name).size;
    return growth <= 0 || this.disk.mayGrow(growth);
  }

  #report(): void {
    const now = this.#fileBytes();
    const freed = this.#bytesAtStart - now;
    if (freed >= 1048576) this.log(`state database: gave back ${formatBytes(freed)} of disk (file now ${formatBytes(now)})`);
  }

  #fileBytes(): number {
    return (this.#s.pages.get() as number) * (this.#s.pageSize.get() as number);
  }
}

/**
 * Everything the coordinator must not forget, in SQLite. Writes from the hot
 * path (task results, attempts, log lines) are queued and committed together
 * once per event-loop turn (./turn-writes.ts); a submit and a job's end commit at once. Rows
 * nobody reads again are deleted in the background (./reclaimer.ts).
 *
 * A full disk (see ./disk-space.ts) stops only the jobs whose writes failed
 * (`onNotStored`) and new submits (DiskFullError); nothing else changes.
 */
import { closeSync, fdatasync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { promisify } from 'node:util';
import type Database from 'better-sqlite3';
import { FINAL_STATES } from '@picompute/sdk/wire';
import type { LogLine, SubmitRequest } from '@picompute/sdk/wire';
import { DiskSpace, isDiskFull } from './disk-space.js';
import { InputParts } from './input-parts.js';
import { MemoryOutputs } from './memory-outputs.js';
import type { JobReason } from '../jobs/job-reason.js';
import { Reclaimer } from './reclaimer.js';
import { OutputRows } from './output-rows.js';
import { TurnWrites } from './turn-writes.js';
import type { Op } from './turn-writes.js';
import { NO_STATS, STATS, statsParams } from './rows.js';
import type { JobEnd, JobRow, TaskRow } from './rows.js';

export type { JobEnd, JobRow, JobStats, TaskRow } from './rows.js';
export { statsFromRow } from './rows.js';

const fdatasyncAsync = promisify(fdatasync);

/** The final states (proto enum JobState) as an SQL list. */
const FINAL = `(${[...FINAL_STATES].map((state) => `'${state}'`).join(',')})`;
const JOB_COLUMNS = `id, name, user, request, state, reason, error, tasks_total, submitted_at, ${STATS.map(([, column]) => column).join(', ')}`;

export class StateStore {
  readonly #writes: TurnWrites;
  readonly #s;
  readonly disk: DiskSpace;
  readonly reclaimer: Reclaimer;
  /** Told (in a later turn) which jobs lost writes to a full disk; the cluster fails them. */
  onNotStored: (jobs: Set<number>) => void = () => {};
  /** Where commits must reach before an acknowledgement when this database is a working copy (./postgres/lead.ts). */
  replica: { synced(): Promise<void>; unavailable(): Error | undefined } | undefined;
  /** Map outputs when the state dies with its process: in memory, not in the outputs table. */
  readonly memoryOutputs: MemoryOutputs | undefined;
  readonly #inputs: InputParts;
  readonly #outputRows: OutputRows;
  /** The outputs write queued last, which later outputs of the same job join while nothing was queued after it. */
  #outputsOp: (Op & { rows: unknown[] }) | undefined;

  constructor(
    readonly db: Database.Database,
    private readonly durable = true,
    log: (line: string) => void = () => {},
  ) {
    // While the disk is full, no automatic checkpoints: they would copy pages into the database
    // file and grow it into the room kept for ending jobs. The reclaimer checkpoints once it has freed pages.
    this.disk = new DiskSpace(dirname(db.name), log, () => {
      db.pragma('wal_autocheckpoint = 1000');
      this.#writes.spaceBack();
    });
    this.#writes = new TurnWrites(db, {
      filled: () => this.diskFilled(),
      notStored: (jobs) => this.onNotStored(jobs),
      committed: () => this.#progress.clear(),
    });
    if (this.disk.full) {
      db.pragma('wal_autocheckpoint = 0');
      this.#writes.diskFull();
    }
    this.memoryOutputs = durable ? undefined : new MemoryOutputs();
    this.#inputs = new InputParts(db);
    this.#outputRows = new OutputRows(db);
    const store = this;
    this.reclaimer = new Reclaimer(db, log, {
      get full() {
        return store.disk.full;
      },
      mayGrow: (bytes) => this.disk.mayGrow(bytes),
      filled: () => this.diskFilled(),
    });
    // Named parameters (@name), bound from an object: a statement and its call say the same names.
    const p = (sql: string) => db.prepare(sql);
    this.#s = {
      insertJob: p(
        'INSERT INTO jobs (name, user, request, state, tasks_total, submitted_at) VALUES (@name, @user, @request, @state, @tasksTotal, @submittedAt)',
      ),
      putBlob: p('INSERT OR IGNORE INTO blobs (hash, bytes) VALUES (@hash, @bytes)'),
      getBlob: p('SELECT bytes FROM blobs WHERE hash = @hash'),
      hasBlob: p('SELECT 1 FROM blobs WHERE hash = @hash').pluck(),
      started: p('UPDATE jobs SET state = @state, started_at = @startedAt WHERE id = @job'),
      reason: p('UPDATE jobs SET reason = @reason WHERE id = @job'),
      // Positional: binding from an object cost a microsecond more per output.
      // A keyed job's map: its manifest and the node holding the runs, in the same row (no more pages written per map).
      mapRunsDone: p('INSERT OR REPLACE INTO outputs (job_id, idx, attempts, output, node) VALUES (?, ?, ?, ?, ?)'),
      progress: p('UPDATE jobs SET tasks_done = @tasksDone WHERE id = @job'),
      log: p('INSERT INTO logs (job_id, task, node, line) VALUES (@job, @task, @node, @line)'),
      end: p(
        `UPDATE jobs SET state = @state, reason = @reason, error = @error, ${STATS.map(([field, column]) => `${column} = @${field}`).join(', ')}, ` +
          'result = @result WHERE id = @job',
      ),
      job: p(`SELECT ${JOB_COLUMNS} FROM jobs WHERE id = @job`),
      jobs: p(`SELECT ${JOB_COLUMNS} FROM jobs ORDER BY id`),
      active: p(`SELECT ${JOB_COLUMNS} FROM jobs WHERE state NOT IN ${FINAL} ORDER BY id`),
      outputs: p('SELECT output FROM outputs WHERE job_id = @job ORDER BY idx'),
      outputPage: p('SELECT idx, output FROM outputs WHERE job_id = @job AND idx >= @from ORDER BY idx LIMIT @limit'),
      result: p('SELECT result FROM jobs WHERE id = @job'),
      logs: p('SELECT task, node, line FROM logs WHERE job_id = @job ORDER BY rowid'),
      drained: p('SELECT node FROM drained_nodes'),
      drain: p('INSERT OR IGNORE INTO drained_nodes (node) VALUES (@node)'),
      resume: p('DELETE FROM drained_nodes WHERE node = @node'),
      purge: p(`SELECT id FROM jobs WHERE state IN ${FINAL} AND ended_at > 0 AND ended_at < @before`).pluck(),
      // Rows an ended job left behind (a coordinator stopped while reclaiming, or a database from before schema 2).
      leftInputs: p(
        `SELECT id FROM jobs WHERE state IN ${FINAL} AND (EXISTS (SELECT 1 FROM tasks WHERE job_id = jobs.id) OR EXISTS (SELECT 1 FROM input_parts WHERE job_id = jobs.id))`,
      ).pluck(),
      leftOutputs: p(
        `SELECT id FROM jobs WHERE state IN ${FINAL} AND (state <> 'COMPLETED' OR json_extract(request, '$.hasReduce')) AND EXISTS (SELECT 1 FROM ` +
          'outputs WHERE job_id = jobs.id)',
      ).pluck(),
    };
    for (const id of this.#s.leftInputs.all() as number[]) this.reclaimer.drop(id, 'inputs');
    for (const id of this.#s.leftOutputs.all() as number[]) this.reclaimer.drop(id, 'outputs');
  }

  // ---------------------------------------------------------------- written at once

  /**
   * Stores a new job's row and bundle, committed at once; its inputs follow
   * with insertInputs. It is on disk only when those are in and `synced()`
   * resolves: the client must not be told the job id before that.
   */
  insertJob(request: SubmitRequest, taskCount: number, bundle: Buffer, submittedAt: number): number {
    this.flush();
    if (this.disk.full) throw this.disk.refuse();
    return this.#orDiskFull(() =>
      this.db.transaction(() => {
        const id = Number(
          this.#s.insertJob.run({
            name: request.name,
            user: request.user,
            request: JSON.stringify(request),
            state: 'PENDING',
            tasksTotal: taskCount,
            submittedAt,
          }).lastInsertRowid,
        );
        this.#s.putBlob.run({ hash: request.bundleHash, bytes: bundle });
        return id;
      })(),
    );
  }

  /**
   * Stores the inputs of tasks `from`… for about `budgetMs` (one commit) and
   * returns the index to go on from: two million inputs take a while, which
   * would stop every heartbeat and call if done in one turn. They go in
   * parts of many inputs (./input-parts.ts). A job with fewer inputs stored
   * than its count was never acknowledged (see activeJobs). Inputs are kept only to run tasks again after a restart:
   * state that dies with its process stores none.
   */
  insertInputs(id: number, inputs: { readonly count: number; get(index: number): Buffer }, from: number, budgetMs: number): number {
    if (!this.durable) return inputs.count;
    const deadline = performance.now() + budgetMs;
    return this.#orDiskFull(() =>
      this.db.transaction(() => {
        return this.#inputs.insert(id, inputs, from, deadline);
      })(),
    );
  }

  #orDiskFull<T>(write: () => T): T {
    try {
      return write();
    } catch (err) {
      if (!isDiskFull(err)) throw err;
      this.diskFilled();
      throw this.disk.refuse();
    }
  }

  /** The disk under the state dir is full (found by a write here, or by an upload). */
  diskFilled(): void {
    this.#writes.diskFull();
    if (this.disk.full) return;
    this.db.pragma('wal_autocheckpoint = 0');
    this.disk.filled();
  }

  /** Whether some of the job's writes were lost to a full disk: it must not be reported COMPLETED. */
  lost(id: number): boolean {
    this.flush();
    return this.#writes.lost.has(id);
  }

  /**
   * Resolves when everything committed so far survives a power cut. Commits
   * run with synchronous=NORMAL (no fsync: they sit in the WAL file); this
   * fsyncs the WAL file from the thread pool, which is what synchronous=FULL
   * would do inside the commit, but without stopping the event loop, so the
   * job's first tasks are already on their way while the disk flushes
   * (about 1 ms of a submit's latency here).
   */
  async synced(): Promise<void> {
    if (this.replica) return this.replica.synced();
    if (!this.durable) return;
    // Opened once: SQLite keeps the WAL file (same inode) while its connection is open.
    this.#walFd ??= openSync(`${this.db.name}-wal`, 'r');
    await fdatasyncAsync(this.#walFd);
  }

  #walFd: number | undefined;

  /**
   * A job ended: its final row, with what is queued before it. What nobody
   * will read again goes in the background: the inputs of a job that
   * completed (a job that did not keeps them for `requeue ID --failed` until
   * --keep purges it), and its outputs unless `keepOutputs` (they are its
   * result, or what `result --partial` and `requeue` read).
   */
  endJob(id: number, end: JobEnd, keepOutputs: boolean): void {
    this.#writes.lost.delete(id);
    this.#writes.later({
      job: id,
      end: true,
      run: () => this.#s.end.run({ ...statsParams(end), state: end.state, reason: end.reason, error: end.error, result: end.result ?? null, job: id }),
    });
    this.flush();
    if (this.durable && end.state === 'COMPLETED') this.reclaimer.drop(id, 'inputs');
    if (!keepOutputs) this.#dropOutputs(id);
  }

  #dropOutputs(id: number): void {
    if (this.memoryOutputs) this.memoryOutputs.drop(id);
    else this.reclaimer.drop(id, 'outputs');
  }

  setDrained(node: string, drained: boolean): void {
    (drained ? this.#s.drain : this.#s.resume).run({ node });
  }

  /** Deletes, in the background, finished jobs that ended before `before` (ms since epoch); returns how many. */
  purge(before: number): number {
    const ids = this.#s.purge.all({ before }) as number[];
    for (const id of ids) {
      this.memoryOutputs?.drop(id);
      this.reclaimer.drop(id, 'job');
    }
    return ids.length;
  }

  // ---------------------------------------------------------------- written once per turn

  started(id: number, at: number): void {
    this.#later(id, () => this.#s.started.run({ state: 'RUNNING', startedAt: at, job: id }));
  }

  reason(id: number, reason: JobReason): void {
    this.#later(id, () => this.#s.reason.run({ reason, job: id }));
  }

  /** A task runs again (after a lost node or a retry): the count caps re-runs across restarts. */
  attempt(id: number, index: number, attempts: number): void {
    this.#later(id, () => this.#inputs.attempt(id, index, attempts));
  }

  /**
   * A task's output. `forResult` false (a fold job's map output, kept only
   * so a restarted coordinator need not run the task again) is not written
   * at all when the state dies with its process; a result's output then
   * stays in memory (./memory-outputs.ts). `node`: a keyed job's map, whose
   * output is a manifest of runs on that node's disk.
   */
  taskDone(id: number, index: number, attempts: number, output: Buffer, done: number, forResult = true, node?: string): void {
    if (this.memoryOutputs) {
      if (forResult) this.memoryOutputs.put(id, index, output);
    } else if (node !== undefined) this.#later(id, () => this.#s.mapRunsDone.run(id, index, attempts, output, node), output.length);
    else {
      const op = this.#outputsOp;
      if (op && op.job === id && this.#writes.last === op) {
        op.rows.push(id, index, attempts, output);
        op.bytes! += output.length;
      } else {
        const rows: unknown[] = [id, index, attempts, output];
        this.#outputsOp = { job: id, rows, bytes: output.length, run: () => this.#outputRows.write(rows) };
        this.#writes.later(this.#outputsOp);
      }
    }
    // One progress write per job per turn, however many tasks finished in it.
    if (!this.#progress.has(id)) this.#later(id, () => this.#s.progress.run({ tasksDone: this.#progress.get(id), job: id }));
    this.#progress.set(id, done);
  }

  readonly #progress = new Map<number, number>();

  logs(id: number, lines: readonly LogLine[]): void {
    if (lines.length)
      this.#later(
        id,
        () => {
          for (const l of lines) this.#s.log.run({ job: id, task: l.task, node: l.node, line: l.line });
        },
        lines.reduce((n, l) => n + l.line.length, 0),
      );
  }

  /** Commits the writes queued so far (they would go at the end of this turn). */
  flush(): void {
    this.#writes.flush();
  }

  /**
   * A write to a table beside the store's (the task runs of an ended job),
   * committed with this turn's writes: on a full disk it is dropped like a
   * log line, where a write of its own would have ended the process.
   */
  alongside(job: number, run: () => void, bytes: number): void {
    this.#later(job, run, bytes);
  }

  #later(job: number, run: () => void, bytes = 0): void {
    this.#writes.later({ job, run, bytes });
  }

  // ---------------------------------------------------------------- reads

  job(id: number): JobRow | undefined {
    return this.#s.job.get({ job: id }) as JobRow | undefined;
  }

  jobs(): JobRow[] {
    return this.#s.jobs.all() as JobRow[];
  }

  /**
   * Unfinished jobs with their tasks. A job with fewer inputs stored than tasks
   * was cut short while its inputs were being stored, so its client was never
   * told its id: it is ended FAILED here, saying why, and not returned.
   */
  activeJobs(): { job: JobRow; tasks: TaskRow[] }[] {
    return [...this.activeJobsOneByOne()];
  }

  /** activeJobs, a job's tasks read only when the caller asks for the job (a restart reads them in slices). */
  *activeJobsOneByOne(): Generator<{ job: JobRow; tasks: TaskRow[] }> {
    for (const job of this.#s.active.all() as JobRow[]) {
      const tasks = this.#inputs.tasks(job.id);
      if (tasks.length === job.tasks_total) {
        yield { job, tasks };
        continue;
      }
      const error = 'the coordinator stopped while this job was being submitted, before its id was given out; submit it again';
      this.endJob(job.id, { ...NO_STATS, state: 'FAILED', reason: '', error, startedAt: job.submitted_at, endedAt: Date.now(), result: undefined }, false);
    }
  }

  outputs(id: number): Buffer[] {
    if (this.memoryOutputs) return this.memoryOutputs.all(id);
    return (this.#s.outputs.all({ job: id }) as { output: Buffer | null }[]).map((r) => r.output ?? Buffer.alloc(0));
  }

  /** Up to `limit` outputs from index `from` on, with their indices, in order. */
  outputPage(id: number, from: number, limit: number): { idx: number; output: Buffer }[] {
    if (this.memoryOutputs) return this.memoryOutputs.page(id, from, limit);
    return this.#s.outputPage.all({ job: id, from, limit }) as { idx: number; output: Buffer }[];
  }

  result(id: number): Buffer | undefined {
    return (this.#s.result.get({ job: id }) as { result: Buffer | null } | undefined)?.result ?? undefined;
  }

  jobLogs(id: number): LogLine[] {
    return this.#s.logs.all({ job: id }) as LogLine[];
  }

  bundle(hash: string): Buffer | undefined {
    return (this.#s.getBlob.get({ hash }) as { bytes: Buffer } | undefined)?.bytes;
  }

  hasBlob(hash: string): boolean {
    return this.#s.hasBlob.get({ hash }) !== undefined;
  }

  drained(): Set<string> {
    return new Set((this.#s.drained.all() as { node: string }[]).map((r) => r.node));
  }

  close(): void {
    this.flush();
    this.reclaimer.close();
    this.disk.close();
    if (this.#walFd !== undefined) closeSync(this.#walFd);
    this.db.close();
  }
}

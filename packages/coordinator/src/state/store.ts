/**
 * Everything the coordinator must not forget, in SQLite. Writes from the hot
 * path (task results, attempts, log lines) are queued and committed together
 * once per event-loop turn; a submit and a job's end commit at once.
 */
import { closeSync, fdatasync, openSync } from 'node:fs';
import { promisify } from 'node:util';
import type Database from 'better-sqlite3';
import type { LogLine, SubmitRequest } from '@picompute/sdk/wire';

export interface JobRow {
  id: number;
  name: string;
  user: string;
  request: string;
  state: string;
  reason: string;
  error: string;
  tasks_total: number;
  tasks_done: number;
  attempts: number;
  cpu_ms: number;
  max_heap_mb: number;
  nodes: string;
  cores: number;
  submitted_at: number;
  started_at: number;
  ended_at: number;
}

export interface TaskRow {
  idx: number;
  input: Buffer;
  attempts: number;
  done: number;
  output: Buffer | null;
}

export interface JobEnd {
  state: string;
  reason: string;
  error: string;
  tasksDone: number;
  attempts: number;
  cpuMs: number;
  maxHeapMb: number;
  nodes: string[];
  cores: number;
  startedAt: number;
  endedAt: number;
  result: Buffer | undefined;
}

const fdatasyncAsync = promisify(fdatasync);

const FINAL = "('COMPLETED','FAILED','CANCELLED','TIMEOUT','NODE_FAIL')";
const JOB_COLUMNS = 'id, name, user, request, state, reason, error, tasks_total, tasks_done, attempts, cpu_ms, max_heap_mb, nodes, cores, submitted_at, started_at, ended_at';

export class StateStore {
  readonly #queue: (() => void)[] = [];
  #flushScheduled = false;
  readonly #s;

  constructor(
    readonly db: Database.Database,
    private readonly durable = true,
  ) {
    const p = <T extends unknown[] = unknown[]>(sql: string) => db.prepare<T>(sql);
    this.#s = {
      insertJob: p('INSERT INTO jobs (name, user, request, state, tasks_total, submitted_at) VALUES (?, ?, ?, ?, ?, ?)'),
      insertTask: p('INSERT INTO tasks (job_id, idx, input) VALUES (?, ?, ?)'),
      putBlob: p('INSERT OR IGNORE INTO blobs (hash, bytes) VALUES (?, ?)'),
      getBlob: p('SELECT bytes FROM blobs WHERE hash = ?'),
      started: p('UPDATE jobs SET state = ?, started_at = ? WHERE id = ?'),
      reason: p('UPDATE jobs SET reason = ? WHERE id = ?'),
      attempt: p('UPDATE tasks SET attempts = ? WHERE job_id = ? AND idx = ?'),
      taskDone: p('INSERT OR REPLACE INTO outputs (job_id, idx, attempts, output) VALUES (?, ?, ?, ?)'),
      progress: p('UPDATE jobs SET tasks_done = ? WHERE id = ?'),
      log: p('INSERT INTO logs (job_id, task, node, line) VALUES (?, ?, ?, ?)'),
      end: p('UPDATE jobs SET state = ?, reason = ?, error = ?, tasks_done = ?, attempts = ?, cpu_ms = ?, max_heap_mb = ?, nodes = ?, cores = ?, started_at = ?, ended_at = ?, result = ? WHERE id = ?'),
      // Inputs are only kept to run tasks again after a restart; an ended job needs none.
      dropInputs: p('DELETE FROM tasks WHERE job_id = ?'),
      job: p(`SELECT ${JOB_COLUMNS} FROM jobs WHERE id = ?`),
      jobs: p(`SELECT ${JOB_COLUMNS} FROM jobs ORDER BY id`),
      active: p(`SELECT ${JOB_COLUMNS} FROM jobs WHERE state NOT IN ${FINAL} ORDER BY id`),
      tasks: p('SELECT t.idx, t.input, max(t.attempts, coalesce(o.attempts, 0)) AS attempts, o.idx IS NOT NULL AS done, o.output FROM tasks t LEFT JOIN outputs o ON o.job_id = t.job_id AND o.idx = t.idx WHERE t.job_id = ? ORDER BY t.idx'),
      outputs: p('SELECT output FROM outputs WHERE job_id = ? ORDER BY idx'),
      result: p('SELECT result FROM jobs WHERE id = ?'),
      logs: p('SELECT task, node, line FROM logs WHERE job_id = ? ORDER BY rowid'),
      drained: p('SELECT node FROM drained_nodes'),
      drain: p('INSERT OR IGNORE INTO drained_nodes (node) VALUES (?)'),
      resume: p('DELETE FROM drained_nodes WHERE node = ?'),
      purge: p(`DELETE FROM jobs WHERE state IN ${FINAL} AND ended_at > 0 AND ended_at < ?`),
    };
  }

  // ---------------------------------------------------------------- written at once

  /**
   * Stores a new job with its inputs and bundle, committed at once. It is on
   * disk only when `synced()` resolves: the client must not be told the job
   * id before that.
   */
  insertJob(request: SubmitRequest, inputs: readonly Buffer[], bundle: Buffer, submittedAt: number): number {
    this.flush();
    return this.db.transaction(() => {
      const id = Number(this.#s.insertJob.run(request.name, request.user, JSON.stringify(request), 'PENDING', inputs.length, submittedAt).lastInsertRowid);
      // Inputs are kept only to run tasks again after a restart: state that dies with its process needs none.
      if (this.durable) for (let i = 0; i < inputs.length; i++) this.#s.insertTask.run(id, i, inputs[i]);
      this.#s.putBlob.run(request.bundleHash, bundle);
      return id;
    })();
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
    if (!this.durable) return;
    // Opened once: SQLite keeps the WAL file (same inode) while its connection is open.
    this.#walFd ??= openSync(`${this.db.name}-wal`, 'r');
    await fdatasyncAsync(this.#walFd);
  }

  #walFd: number | undefined;

  /** A job ended: its final row, with what is queued before it. */
  endJob(id: number, end: JobEnd): void {
    this.#queue.push(() => {
      this.#s.end.run(end.state, end.reason, end.error, end.tasksDone, end.attempts, end.cpuMs, end.maxHeapMb, end.nodes.join(','), end.cores, end.startedAt, end.endedAt, end.result ?? null, id);
      // A job that did not complete keeps its inputs (until --keep purges it) for `picompute requeue ID --failed`.
      if (end.state === 'COMPLETED') this.#s.dropInputs.run(id);
    });
    this.flush();
  }

  setDrained(node: string, drained: boolean): void {
    (drained ? this.#s.drain : this.#s.resume).run(node);
  }

  /** Deletes finished jobs that ended before `before` (ms since epoch); returns how many. */
  purge(before: number): number {
    return this.#s.purge.run(before).changes;
  }

  // ---------------------------------------------------------------- written once per turn

  started(id: number, at: number): void {
    this.#later(() => this.#s.started.run('RUNNING', at, id));
  }

  reason(id: number, reason: string): void {
    this.#later(() => this.#s.reason.run(reason, id));
  }

  /** A task runs again (after a lost node or a retry): the count caps re-runs across restarts. */
  attempt(id: number, index: number, attempts: number): void {
    this.#later(() => this.#s.attempt.run(attempts, id, index));
  }

  /**
   * A task's output. `forResult` false (a fold job's map output, kept only
   * so a restarted coordinator need not run the task again) is not written
   * at all when the state dies with its process.
   */
  taskDone(id: number, index: number, attempts: number, output: Buffer, done: number, forResult = true): void {
    if (forResult || this.durable) this.#later(() => this.#s.taskDone.run(id, index, attempts, output));
    // One progress write per job per turn, however many tasks finished in it.
    if (!this.#progress.has(id)) this.#later(() => this.#s.progress.run(this.#progress.get(id), id));
    this.#progress.set(id, done);
  }

  readonly #progress = new Map<number, number>();

  logs(id: number, lines: readonly LogLine[]): void {
    if (lines.length) this.#later(() => lines.forEach((l) => this.#s.log.run(id, l.task, l.node, l.line)));
  }

  flush(): void {
    if (this.#queue.length === 0) return;
    const ops = this.#queue.splice(0);
    this.db.transaction(() => ops.forEach((op) => op()))();
    this.#progress.clear();
  }

  #later(op: () => void): void {
    this.#queue.push(op);
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(() => {
        this.#flushScheduled = false;
        this.flush();
      });
    }
  }

  // ---------------------------------------------------------------- reads

  job(id: number): JobRow | undefined {
    return this.#s.job.get(id) as JobRow | undefined;
  }

  jobs(): JobRow[] {
    return this.#s.jobs.all() as JobRow[];
  }

  activeJobs(): { job: JobRow; tasks: TaskRow[] }[] {
    return (this.#s.active.all() as JobRow[]).map((job) => ({ job, tasks: this.#s.tasks.all(job.id) as TaskRow[] }));
  }

  outputs(id: number): Buffer[] {
    return (this.#s.outputs.all(id) as { output: Buffer | null }[]).map((r) => r.output ?? Buffer.alloc(0));
  }

  result(id: number): Buffer | undefined {
    return (this.#s.result.get(id) as { result: Buffer | null } | undefined)?.result ?? undefined;
  }

  jobLogs(id: number): LogLine[] {
    return this.#s.logs.all(id) as LogLine[];
  }

  bundle(hash: string): Buffer | undefined {
    return (this.#s.getBlob.get(hash) as { bytes: Buffer } | undefined)?.bytes;
  }

  drained(): Set<string> {
    return new Set((this.#s.drained.all() as { node: string }[]).map((r) => r.node));
  }

  close(): void {
    this.flush();
    if (this.#walFd !== undefined) closeSync(this.#walFd);
    this.db.close();
  }
}

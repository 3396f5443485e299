/**
 * One live (pending or running) job on the coordinator: its tasks' inputs and
 * outputs, what is pending, running and done, and who is watching it. A job
 * that has ended lives only in the state database (see ./state/store.ts).
 *
 * A fold job has one more step after its map tasks: a REDUCE task (index -1)
 * that an agent runs over every map output in input order, because the
 * coordinator never runs user code.
 */
import type { FinalJobState, JobEvent, JobSpec, JobState, JobSummary, LogLine, RunningTask, SubmitRequest } from '@picompute/sdk/wire';
import { FoldPlan } from './fold-plan.js';
import { JobInputs } from './job-inputs.js';
import { PendingQueue } from './pending-queue.js';
import { TaskTable } from './task-table.js';
import type { JobRow, TaskRow } from './state/store.js';

export { REDUCE_INDEX } from './fold-plan.js';
/**
 * Batches aim to keep a worker busy this long, so tiny tasks share one
 * message and one thread hop (W1 in `pnpm bench`: one task per message tops
 * out near plain piscina's ~20,000 calls/s; batches of up to 1,024 reach
 * ~50,000 tasks/s end to end), while tasks of a few ms or more still go one
 * per batch and spread over every core.
 */
const TARGET_BATCH_MS = 20;
const MAX_BATCH = 1024;

export type Watcher = (ev: JobEvent) => void;

export class JobRecord {
  state: JobState = 'PENDING';
  /** Why the job is PENDING (or why it ended without running), Slurm's words. */
  reason = '';
  error = '';
  /**
   * Map outputs waiting to be folded (fold jobs only): a map job's outputs
   * are its result and live in the state database alone, not here too.
   */
  readonly outputs: (Buffer | undefined)[];
  readonly attempts: Uint16Array;
  readonly done: Uint8Array;
  /** Task indices waiting for a node; lost tasks go back on the end. */
  readonly pending: PendingQueue;
  /** Tasks out on nodes: the node's id and when the task was sent there. */
  readonly running = new Map<number, { node: string; since: number }>();
  doneCount = 0;
  /** Task runs that were re-runs: after a lost node or a retried throw. */
  retries = 0;
  attemptsTotal = 0;
  cpuMs = 0;
  maxHeapMb = 0;
  /** How outputs fold into the result (fold jobs only). */
  readonly fold: FoldPlan | undefined;
  result: Buffer | undefined;
  readonly nodes = new Set<string>();
  readonly watchers = new Set<Watcher>();
  startedAt = 0;
  endedAt = 0;
  /** Resolves when the job's inputs are all in the state database (see Cluster.submit). */
  stored: Promise<void> = Promise.resolve();
  cores = 0;
  readonly total: number;
  /** Each map task's state and last run (`picompute tasks`). */
  readonly taskTable: TaskTable;
  #meanTaskMs = NaN;

  constructor(
    readonly id: string,
    readonly request: SubmitRequest,
    readonly inputs: JobInputs,
    readonly submittedAt: number,
    doneAlready?: (job: JobRecord) => number,
  ) {
    this.total = inputs.count;
    this.taskTable = new TaskTable(this.total);
    this.fold = request.hasReduce ? new FoldPlan(this.total) : undefined;
    this.outputs = this.fold ? new Array(this.total) : [];
    this.attempts = new Uint16Array(this.total);
    this.done = new Uint8Array(this.total);
    const already = doneAlready?.(this) ?? 0;
    this.pending = new PendingQueue(this.total, (i) => this.done[i] === 1, already);
  }

  /** A job read back after a coordinator restart: done tasks stay done, the rest run again. */
  static recover(row: JobRow, tasks: TaskRow[]): JobRecord {
    const inputs = JobInputs.fromFrames(tasks.map((t) => t.input));
    const job = new JobRecord(String(row.id), JSON.parse(row.request) as SubmitRequest, inputs, row.submitted_at, (j) => {
      for (const t of tasks) {
        j.attempts[t.idx] = t.attempts;
        if (t.done) {
          j.outputDone(t.idx, t.output ?? Buffer.alloc(0));
          j.taskTable.set(t.idx, 'COMPLETED');
        }
      }
      return j.doneCount;
    });
    job.attemptsTotal = row.attempts;
    job.startedAt = row.started_at;
    if (row.started_at) job.state = 'RUNNING';
    return job;
  }

  get user(): string {
    return this.request.user;
  }

  get coresPerTask(): number {
    return Math.max(1, this.request.coresPerTask || 1);
  }

  /** The job this one waits for (`afterok:ID`), if any. */
  get dependsOn(): string | undefined {
    return this.request.dependency ? this.request.dependency.slice('afterok:'.length) : undefined;
  }

  get spec(): JobSpec {
    const r = this.request;
    return { jobId: this.id, bundleHash: r.bundleHash, timeLimitMs: r.timeLimitMs, memoryMb: r.memoryMb, args: r.args, coresPerTask: this.coresPerTask, sharedHash: r.sharedHash ?? '' };
  }

  get final(): boolean {
    return !(this.state === 'PENDING' || this.state === 'RUNNING');
  }

  /** Records a map output (once per index). */
  outputDone(index: number, output: Buffer): void {
    this.done[index] = 1;
    if (this.fold) this.outputs[index] = output;
    this.doneCount++;
    this.fold?.outputDone(index, this.doneCount === this.total);
  }

  /** Tasks that could be placed right now. */
  get runnable(): number {
    if (this.final || this.reason === 'Dependency') return 0;
    return (this.fold?.runnable ?? 0) + this.pending.length;
  }

  get batchSize(): number {
    if (!(this.#meanTaskMs >= 0)) return 1;
    return Math.max(1, Math.min(MAX_BATCH, Math.floor(TARGET_BATCH_MS / Math.max(this.#meanTaskMs, 0.001))));
  }

  recordRun(durationMs: number, heapMb: number): void {
    this.#meanTaskMs = Number.isNaN(this.#meanTaskMs) ? durationMs : 0.8 * this.#meanTaskMs + 0.2 * durationMs;
    this.cpuMs += durationMs;
    this.maxHeapMb = Math.max(this.maxHeapMb, heapMb);
  }

  wallMs(now = Date.now()): number {
    return this.startedAt ? (this.endedAt || now) - this.startedAt : 0;
  }

  /** The `count` tasks out longest, longest first (one pass: a job may have thousands out). */
  runningLongest(count = 3, now = Date.now()): RunningTask[] {
    const top: RunningTask[] = [];
    for (const [index, { node, since }] of this.running) {
      const runningMs = now - since;
      if (top.length === count && runningMs <= top[count - 1]!.runningMs) continue;
      top.push({ index, node, runningMs });
      top.sort((a, b) => b.runningMs - a.runningMs);
      if (top.length > count) top.pop();
    }
    return top;
  }

  event(logs: LogLine[] = []): JobEvent {
    return {
      jobId: this.id,
      state: this.state,
      tasksTotal: this.total,
      tasksDone: this.doneCount,
      tasksRunning: this.running.size,
      retries: this.retries,
      error: this.error,
      logs,
      wallMs: this.wallMs(),
      cores: this.cores,
      nodes: [...this.nodes],
      reason: this.reason,
      runningLongest: this.runningLongest(),
    };
  }

  summary(): JobSummary {
    return {
      jobId: this.id,
      name: this.request.name,
      state: this.state,
      tasksTotal: this.total,
      tasksDone: this.doneCount,
      submittedAtMs: this.submittedAt,
      wallMs: this.wallMs(),
      error: this.error,
      user: this.request.user,
      reason: this.reason,
      priority: this.request.priority,
      coresPerTask: this.coresPerTask,
      tasksRunning: this.running.size,
      attempts: this.attemptsTotal,
      cpuMs: this.cpuMs,
      maxHeapMb: this.maxHeapMb,
      nodes: [...this.nodes],
      startedAtMs: this.startedAt,
      endedAtMs: this.endedAt,
      dependency: this.request.dependency,
      cores: this.cores,
      tasksQueued: 0,
    };
  }
}

/** A finished job's summary and final event, from its database row. */
export function summaryFromRow(row: JobRow): JobSummary {
  const request = JSON.parse(row.request) as SubmitRequest;
  return {
    jobId: String(row.id),
    name: row.name,
    state: row.state as FinalJobState,
    tasksTotal: row.tasks_total,
    tasksDone: row.tasks_done,
    submittedAtMs: row.submitted_at,
    wallMs: row.started_at ? row.ended_at - row.started_at : 0,
    error: row.error,
    user: row.user,
    reason: row.reason,
    priority: request.priority ?? 0,
    coresPerTask: Math.max(1, request.coresPerTask || 1),
    tasksRunning: 0,
    attempts: row.attempts,
    cpuMs: row.cpu_ms,
    maxHeapMb: row.max_heap_mb,
    nodes: row.nodes ? row.nodes.split(',') : [],
    startedAtMs: row.started_at,
    endedAtMs: row.ended_at,
    dependency: request.dependency ?? '',
    cores: row.cores,
    tasksQueued: 0,
  };
}

export function eventFromSummary(s: JobSummary): JobEvent {
  return {
    jobId: s.jobId,
    state: s.state,
    tasksTotal: s.tasksTotal,
    tasksDone: s.tasksDone,
    tasksRunning: 0,
    retries: Math.max(0, s.attempts - s.tasksTotal),
    error: s.error,
    logs: [],
    wallMs: s.wallMs,
    cores: s.cores,
    nodes: s.nodes,
    reason: s.reason,
    runningLongest: [],
  };
}

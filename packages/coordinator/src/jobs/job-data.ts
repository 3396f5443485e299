/**
 * What the coordinator holds of one live (pending or running) job: its
 * tasks' inputs and outputs, what is pending, running and done, its totals,
 * and how clients and the scheduler see it. Its state machine (what changes
 * these fields) is ./job-record.ts; a job that has ended lives only in the
 * state database (see ../state/store.ts).
 */
import type { JobReason } from './job-reason.js';
import type { JobEvent, JobSpec, JobState, JobSummary, LogLine, SubmitRequest } from '@picompute/sdk/wire';
import { FoldPlan } from '../fold-plan.js';
import type { JobInputs } from '../job-inputs.js';
import { ShufflePlan } from './shuffle-plan.js';
import { BACKUP_AFTER_MS, backupCandidates, PhaseTimes } from './backup-plan.js';
import { PendingQueue } from '../pending-queue.js';
import { TaskTable } from '../task-table.js';
import type { LiveJob } from '../scheduler/index.js';
import type { JobStats } from '../state/store.js';
import { eventOf, summaryOf } from './job-views.js';
import type { TaskId } from './task-id.js';

/**
 * Batches aim to keep a worker busy this long, so tiny tasks share one
 * message and one thread hop (W1 in `pnpm bench`: one task per message tops
 * out near plain piscina's ~20,000 calls/s; batches of up to 1,024 reach
 * ~50,000 tasks/s end to end), while tasks of a few ms or more still go one
 * per batch and spread over every core.
 */
const TARGET_BATCH_MS = 20;
const MAX_BATCH = 1024;

/** A task out on a node. */
export interface TaskRun {
  id: TaskId;
  node: string;
  attempt: number;
  since: number;
  /**
   * A keyed job's estimate of when the task got a core: agents take up to
   * two tasks per core and run them in order, so one sent behind others
   * starts when one of this job's tasks there ends (undefined until then).
   * Backups measure a straggler from here, not from when it was sent.
   */
  startedAt?: number;
}

const NOTHING_PLACEABLE = Object.freeze({ runnable: 0, backups: 0 });

export class JobData {
  state: JobState = 'PENDING';
  /** Why the job is PENDING (or why it ended without running), Slurm's words. */
  reason: JobReason = '';
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
  /** Tasks out on nodes, by taskKey. */
  readonly running = new Map<number, TaskRun>();
  doneCount = 0;
  /** Task runs that were re-runs: after a lost node or a retried throw. */
  retries = 0;
  attemptsTotal = 0;
  cpuMs = 0;
  maxHeapMb = 0;
  /** How outputs fold into the result (fold jobs only). */
  readonly fold: FoldPlan | undefined;
  /** Where a keyed job's map outputs are and which partitions are reduced (keyed jobs only). */
  readonly shuffle: ShufflePlan | undefined;
  /** Backup runs of stragglers (./backup-plan.ts), by taskKey: a second run of a task in `running`. */
  readonly backups = new Map<number, TaskRun>();
  backupsRan = 0;
  backupsWon = 0;
  /** A task runs this long (and twice its phase's median) before it gets a backup; the coordinator's setting. */
  backupAfterMs = BACKUP_AFTER_MS;
  /** Runs that lost to their twin (a backup, or the straggler it backed up): the caller tells their nodes to stop them, then empties this. */
  readonly losers: TaskRun[] = [];
  /** Nodes whose disk had no room for this job's task files (DISK_FULL): its tasks go elsewhere. */
  readonly avoid = new Set<string>();
  /** The last DISK_FULL message, for the error when no node is left to go to. */
  diskFullMessage = '';
  /** Cores of the nodes a keyed job's tasks went to (for TaskRun.startedAt). */
  readonly coresOf = new Map<string, number>();
  readonly mapTimes = new PhaseTimes();
  readonly reduceTimes = new PhaseTimes();
  result: Buffer | undefined;
  readonly nodes = new Set<string>();
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
    doneAlready?: (job: JobData) => number,
  ) {
    this.total = inputs.count;
    this.taskTable = new TaskTable(this.total);
    this.fold = request.hasReduce ? new FoldPlan(this.total) : undefined;
    this.outputs = this.fold ? new Array(this.total) : [];
    this.shuffle = request.keyed ? new ShufflePlan(this.total, Math.max(1, request.partitions)) : undefined;
    // One buffer for both (an ArrayBuffer costs ~200 bytes of heap beside its bytes: 10,000 queued jobs of a task each).
    const perTask = new ArrayBuffer(3 * this.total);
    this.attempts = new Uint16Array(perTask, 0, this.total);
    this.done = new Uint8Array(perTask, 2 * this.total, this.total);
    const already = doneAlready?.(this) ?? 0;
    this.pending = new PendingQueue(this.total, (i) => this.done[i] === 1, already);
  }

  get user(): string {
    return this.request.user;
  }

  /** Times a task may be lost with its node (`maxNodeLosses`, default 3). */
  get maxNodeLosses(): number {
    return this.request.maxNodeLosses || 3;
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
    return {
      jobId: this.id,
      bundleHash: r.bundleHash,
      timeLimitMs: r.timeLimitMs,
      memoryMb: r.memoryMb,
      args: r.args,
      coresPerTask: this.coresPerTask,
      sharedHash: r.sharedHash ?? '',
      partitions: this.shuffle?.partitions ?? 0,
      submittedAtMs: this.submittedAt,
    };
  }

  get final(): boolean {
    return !(this.state === 'PENDING' || this.state === 'RUNNING');
  }

  /** Tasks that could be placed right now. */
  get runnable(): number {
    return this.#placeable().runnable;
  }

  /** Tasks that could be placed right now, and how many of them are backups of stragglers. */
  #placeable(): { runnable: number; backups: number } {
    if (this.final || this.reason === 'Dependency') return NOTHING_PLACEABLE;
    // Asked of every live job each round: backupsDue returns at once for a job far from a phase's end.
    const backups = this.backupsDue().length;
    return { runnable: (this.fold?.runnable ?? 0) + (this.shuffle?.runnable ?? 0) + this.pending.length + backups, backups };
  }

  /**
   * Running tasks that should get a backup now (./backup-plan.ts): map tasks
   * of every job, and a keyed job's reduces; not a fold's combine and reduce
   * steps (they carry their values in the message), nor any task of a job
   * submitted with `speculation: false`.
   */
  backupsDue(now = Date.now()): TaskRun[] {
    if (this.request.noBackups || this.running.size === 0) return [];
    // Only near the end of a phase (while it still has tasks to start, free cores go to them), and with a yardstick.
    const maps = this.pending.length === 0 && this.mapTimes.median() !== undefined ? this.mapTimes : undefined;
    const shuffle = this.shuffle;
    const reduces = shuffle && !shuffle.waiting && this.reduceTimes.median() !== undefined ? this.reduceTimes : undefined;
    if (!maps && !reduces) return [];
    const phase = (run: TaskRun) => (run.id.kind === 'MAP' ? maps : run.id.kind === 'KEYED_REDUCE' ? reduces : undefined);
    return backupCandidates(this.running.values(), this.backups, phase, now, this.backupAfterMs);
  }

  get batchSize(): number {
    if (!(this.#meanTaskMs >= 0)) return 1;
    return Math.max(1, Math.min(MAX_BATCH, Math.floor(TARGET_BATCH_MS / Math.max(this.#meanTaskMs, 0.001))));
  }

  /** The job as a round of the loop sees it (../scheduler/reconcile.ts). */
  snapshot(): LiveJob {
    const r = this.request;
    const { runnable, backups } = this.#placeable();
    return {
      id: this.id,
      state: this.state === 'PENDING' ? 'PENDING' : 'RUNNING',
      user: this.user,
      priority: r.priority,
      seq: Number(this.id),
      runnable,
      backups: backups || undefined,
      running: this.running.size + this.backups.size,
      batchSize: this.batchSize,
      coresPerTask: this.coresPerTask,
      memoryMb: r.memoryMb,
      constraint: r.constraint || undefined,
      maxRunning: r.maxRunning || undefined,
      avoid: this.avoid.size ? this.avoid : undefined,
    };
  }

  /** The job's figures as they stand: what its row keeps when it ends, and what its summary shows. */
  stats(): JobStats {
    return {
      tasksDone: this.doneCount,
      attempts: this.attemptsTotal,
      cpuMs: this.cpuMs,
      maxHeapMb: this.maxHeapMb,
      nodes: [...this.nodes],
      cores: this.cores,
      startedAt: this.startedAt,
      endedAt: this.endedAt,
      backups: this.backupsRan,
      backupsWon: this.backupsWon,
    };
  }

  /** Takes back the figures its row kept over a coordinator restart; done tasks are counted from their outputs, not from `tasksDone`. */
  protected resumeStats(stats: JobStats): void {
    this.attemptsTotal = stats.attempts;
    this.cpuMs = stats.cpuMs;
    this.maxHeapMb = stats.maxHeapMb;
    for (const node of stats.nodes) this.nodes.add(node);
    this.cores = stats.cores;
    this.startedAt = stats.startedAt;
    this.backupsRan = stats.backups;
    this.backupsWon = stats.backupsWon;
  }

  wallMs(now = Date.now()): number {
    return this.startedAt ? (this.endedAt || now) - this.startedAt : 0;
  }

  event(logs: LogLine[] = []): JobEvent {
    return eventOf(this, logs);
  }

  summary(): JobSummary {
    return summaryOf(this);
  }

  /** A task ran this long and held this much heap: the job's totals, and the batch size its mean task time calls for. */
  protected ran(durationMs: number, heapMb: number): void {
    this.#meanTaskMs = Number.isNaN(this.#meanTaskMs) ? durationMs : 0.8 * this.#meanTaskMs + 0.2 * durationMs;
    this.cpuMs += durationMs;
    this.maxHeapMb = Math.max(this.maxHeapMb, heapMb);
  }

  /** Records a map output (once per index). */
  outputDone(index: number, output: Buffer): void {
    this.done[index] = 1;
    if (this.fold) this.outputs[index] = output;
    this.doneCount++;
    this.fold?.outputDone(index, this.doneCount === this.total);
  }
}

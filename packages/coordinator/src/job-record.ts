/**
 * One job's state on the coordinator: its tasks' inputs and outputs, what is
 * pending, running and done, and the people watching it.
 *
 * A fold job has one more step after its map tasks: a REDUCE task (index -1)
 * that an agent runs over every map output in input order, because the
 * coordinator never runs user code.
 */
import type { JobEvent, JobSpec, JobState, JobSummary, LogLine, SubmitRequest } from '@picompute/sdk/wire';

export const REDUCE_INDEX = -1;
/** Batches aim to keep a worker busy this long, so tiny tasks share one message and one thread hop. */
const TARGET_BATCH_MS = 20;
const MAX_BATCH = 1024;
const MAX_KEPT_LOG_LINES = 10_000;

export type Watcher = (ev: JobEvent) => void;

export class JobRecord {
  state: JobState = 'PENDING';
  error = '';
  readonly outputs: (Buffer | undefined)[];
  readonly attempts: Uint16Array;
  /** Task indices waiting for a node; lost tasks go back on the end. */
  pending: number[];
  readonly running = new Map<number, string>();
  done = 0;
  retries = 0;
  reduceState: 'none' | 'waiting' | 'pending' | 'running' | 'done';
  result: Buffer | undefined;
  readonly logs: LogLine[] = [];
  readonly nodes = new Set<string>();
  readonly watchers = new Set<Watcher>();
  readonly submittedAt = Date.now();
  startedAt = 0;
  endedAt = 0;
  cores = 0;
  /** Why the job is PENDING, kept current by the cluster. */
  reason = '';
  readonly total: number;
  #meanTaskMs = NaN;

  constructor(
    readonly id: string,
    readonly seq: number,
    readonly request: SubmitRequest,
    public inputs: Buffer[],
  ) {
    this.total = inputs.length;
    this.outputs = new Array(inputs.length);
    this.attempts = new Uint16Array(inputs.length);
    this.pending = inputs.map((_, i) => i);
    this.reduceState = request.hasReduce ? 'waiting' : 'none';
  }

  get spec(): JobSpec {
    const r = this.request;
    return { jobId: this.id, bundleHash: r.bundleHash, timeLimitMs: r.timeLimitMs, memoryMb: r.memoryMb, args: r.args };
  }


  get final(): boolean {
    return this.state === 'COMPLETED' || this.state === 'FAILED' || this.state === 'CANCELLED';
  }

  /** Tasks that could be placed right now. */
  get runnable(): number {
    if (this.final) return 0;
    return this.reduceState === 'pending' ? 1 : this.pending.length;
  }

  get batchSize(): number {
    if (this.reduceState === 'pending' || !(this.#meanTaskMs >= 0)) return 1;
    return Math.max(1, Math.min(MAX_BATCH, Math.floor(TARGET_BATCH_MS / Math.max(this.#meanTaskMs, 0.001))));
  }

  recordDuration(ms: number): void {
    this.#meanTaskMs = Number.isNaN(this.#meanTaskMs) ? ms : 0.8 * this.#meanTaskMs + 0.2 * ms;
  }

  addLogs(task: number, node: string, lines: readonly string[]): LogLine[] {
    const added = lines.map((line) => ({ task, node, line }));
    if (this.logs.length < MAX_KEPT_LOG_LINES) this.logs.push(...added.slice(0, MAX_KEPT_LOG_LINES - this.logs.length));
    return added;
  }

  wallMs(now = Date.now()): number {
    return this.startedAt ? (this.endedAt || now) - this.startedAt : 0;
  }

  event(logs: LogLine[] = []): JobEvent {
    return {
      jobId: this.id,
      state: this.state,
      tasksTotal: this.total,
      tasksDone: this.done,
      tasksRunning: this.running.size,
      retries: this.retries,
      error: this.error,
      logs,
      wallMs: this.wallMs(),
      cores: this.cores,
      nodes: [...this.nodes],
      reason: this.state === 'PENDING' ? this.reason : '',
    };
  }

  summary(): JobSummary {
    return {
      jobId: this.id,
      name: this.request.name,
      state: this.state,
      tasksTotal: this.total,
      tasksDone: this.done,
      submittedAtMs: this.submittedAt,
      wallMs: this.wallMs(),
      error: this.error,
      user: this.request.user,
      reason: this.state === 'PENDING' ? this.reason : '',
    };
  }
}

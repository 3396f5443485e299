/**
 * The task runs of an agent, across coordinator streams. A coordinator that
 * goes away (SIGKILL, a takeover by a standby, a restart) does not take its
 * running tasks with it: they run on, their results are held in memory (up
 * to MAX_HELD_RESULT_BYTES; past that a result is dropped and the task runs
 * again under the next coordinator), and the next coordinator's stream is
 * told which tasks this agent holds, running or finished, before its hello
 * (see `attach`), then gets the held results. It adopts what it still wants
 * and cancels the jobs it no longer has.
 *
 * Keyed jobs' tasks are the exception: they stop with their stream, since
 * their map outputs live on this agent's disk under names the next
 * coordinator does not know, and it runs those maps again anyway.
 */
import type { HeldTask, TaskResult } from '@picompute/sdk/wire';
import type { TaskOutcome } from './batch.js';
import { taskHook } from './task-counters.js';

/** What an agent keeps of results no coordinator has taken, bytes of outputs and logs. */
export const MAX_HELD_RESULT_BYTES = 64 * 1024 * 1024;

/** A coordinator stream, as the keeper sees it. */
export interface Receiver {
  deliver(results: TaskResult[]): void;
  /** Tasks of a stream that closed, handed to this one while it is open. */
  takeOver(held: Held): void;
}

export interface Held {
  tasks: HeldTask[];
  results: TaskResult[];
}

export interface Run {
  readonly jobId: string;
  readonly signal: AbortSignal;
}

interface RunState extends Run {
  /** Tasks without an outcome yet, by `index/attempt`. */
  readonly waiting: Map<string, { index: number; attempt: number }>;
  readonly controller: AbortController;
  owner: Receiver | undefined;
  /** Whether it may outlive its stream. */
  readonly keep: boolean;
}

export function toResult(o: TaskOutcome, jobId: string): TaskResult {
  taskHook.observer?.task(o.ok ? 'ok' : (o.error?.kind ?? 'THREW').toLowerCase(), o.durationMs, o.output?.byteLength ?? 0);
  return {
    jobId,
    index: o.index,
    attempt: o.attempt,
    ok: o.ok,
    output: o.output ? Buffer.from(o.output.buffer, o.output.byteOffset, o.output.byteLength) : Buffer.alloc(0),
    error: o.error ? { ...o.error, fetchNode: o.error.fetchNode ?? '' } : null,
    logs: o.logs,
    durationMs: o.durationMs,
    heapMb: o.heapMb,
    thread: o.thread ?? 0,
    startedAtMs: o.startedAtMs ?? 0,
  };
}

const weight = (r: TaskResult) => r.output.length + r.logs.reduce((n, l) => n + l.length, 0) + 200;

export class TaskKeeper {
  readonly #runs = new Set<RunState>();
  /** Open streams, oldest first. */
  readonly #receivers: Receiver[] = [];
  #held: TaskResult[] = [];
  #heldBytes = 0;

  constructor(
    private readonly log: (line: string) => void,
    private readonly maxBytes = MAX_HELD_RESULT_BYTES,
  ) {}

  /** A batch `owner` sent; `keep`: it runs on if that stream closes. */
  start(owner: Receiver, jobId: string, tasks: readonly { index: number; attempt: number }[], keep: boolean): Run {
    const controller = new AbortController();
    const waiting = new Map(tasks.map((t) => [`${t.index}/${t.attempt}`, { index: t.index, attempt: t.attempt }]));
    const run: RunState = { jobId, signal: controller.signal, waiting, controller, owner, keep };
    this.#runs.add(run);
    return run;
  }

  /** Outcomes of a run's tasks: to the stream that owns it now, or held for the next. */
  settle(run: Run, outcomes: readonly TaskOutcome[]): void {
    const r = run as RunState;
    if (r.signal.aborted || outcomes.length === 0) return;
    const results = outcomes.map((o) => toResult(o, r.jobId));
    for (const o of results) r.waiting.delete(`${o.index}/${o.attempt}`);
    if (r.owner) r.owner.deliver(results);
    else this.#hold(results);
  }

  /** The run is over (its outcomes settled, or it gave up). */
  end(run: Run): void {
    this.#runs.delete(run as RunState);
  }

  /** The job ended: its runs stop, and results held for it are dropped. */
  cancel(jobId: string): void {
    for (const run of this.#runs) {
      if (run.jobId !== jobId) continue;
      run.controller.abort(new Error('job cancelled'));
      this.#runs.delete(run);
    }
    const before = this.#held.length;
    this.#held = this.#held.filter((r) => r.jobId !== jobId);
    if (this.#held.length !== before) this.#heldBytes = this.#held.reduce((n, r) => n + weight(r), 0);
  }

  /** A stream opened: what the agent holds from streams that closed, now that stream's. */
  attach(receiver: Receiver): Held {
    this.#receivers.push(receiver);
    return this.#handTo(receiver);
  }

  /** A stream closed: its runs stop, or (`keep`) run on for the next stream, which an open one gets at once. */
  detach(receiver: Receiver): void {
    const at = this.#receivers.indexOf(receiver);
    if (at >= 0) this.#receivers.splice(at, 1);
    let kept = 0;
    for (const run of this.#runs) {
      if (run.owner !== receiver) continue;
      if (!run.keep) {
        run.controller.abort(new Error('coordinator stream closed'));
        this.#runs.delete(run);
        continue;
      }
      run.owner = undefined;
      kept += run.waiting.size;
    }
    const next = this.#receivers.at(-1);
    if (next) {
      const held = this.#handTo(next);
      if (held.tasks.length) next.takeOver(held);
    } else if (kept)
      this.log(`the coordinator's stream closed: ${kept} task(s) run on, their results held (up to ${this.maxBytes / 1048576} MiB) for the next coordinator`);
  }

  /** The agent stops: every run with it. */
  stop(): void {
    for (const run of this.#runs) run.controller.abort(new Error('agent stopping'));
    this.#runs.clear();
    this.#held = [];
    this.#heldBytes = 0;
  }

  #handTo(receiver: Receiver): Held {
    const tasks: HeldTask[] = [];
    for (const run of this.#runs) {
      if (run.owner) continue;
      run.owner = receiver;
      for (const t of run.waiting.values()) tasks.push({ jobId: run.jobId, index: t.index, attempt: t.attempt, finished: false });
    }
    const results = this.#held;
    for (const r of results) tasks.push({ jobId: r.jobId, index: r.index, attempt: r.attempt, finished: true });
    this.#held = [];
    this.#heldBytes = 0;
    return { tasks, results };
  }

  #hold(results: TaskResult[]): void {
    for (const r of results) {
      const bytes = weight(r);
      if (this.#heldBytes + bytes > this.maxBytes) {
        this.log(
          `dropping the result of task ${r.index} of job ${r.jobId}: results held for the next coordinator passed ${this.maxBytes / 1048576} MiB; it runs again there`,
        );
        continue;
      }
      this.#held.push(r);
      this.#heldBytes += bytes;
    }
  }
}

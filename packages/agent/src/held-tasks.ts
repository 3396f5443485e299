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
 *
 * A job is its id and when it was submitted (JobSpec.submittedAtMs): a
 * coordinator whose state started afresh gives out the same ids again, and
 * a run of the old job 3 must never pass for one of the new job 3. So a
 * stream's cancel stops only that stream's runs, and a run or result of
 * another job under the same id is dropped rather than handed to a stream
 * that runs the new one.
 */
import { runKey } from '@picompute/sdk/wire';
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
  /** When its job was submitted: which job of that id it is. */
  readonly submittedAtMs: number;
  readonly signal: AbortSignal;
}

interface HeldResult {
  result: TaskResult;
  submittedAtMs: number;
}

interface RunState extends Run {
  /** Tasks without an outcome yet, by runKey. */
  readonly waiting: Map<number, { index: number; attempt: number }>;
  readonly controller: AbortController;
  /** Of `waiting`, those the coordinator no longer wants (a backup's loser). */
  readonly unwanted: Set<number>;
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
    output: !o.output ? Buffer.alloc(0) : Buffer.isBuffer(o.output) ? o.output : Buffer.from(o.output.buffer, o.output.byteOffset, o.output.byteLength),
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
  #held: HeldResult[] = [];
  #heldBytes = 0;

  constructor(
    private readonly log: (line: string) => void,
    private readonly maxBytes = MAX_HELD_RESULT_BYTES,
  ) {}

  /** A batch `owner` sent; `keep`: it runs on if that stream closes. */
  start(owner: Receiver, jobId: string, submittedAtMs: number, tasks: readonly { index: number; attempt: number }[], keep: boolean): Run {
    // Runs handed to this stream of another job under this id: their results would pass for this one's.
    for (const other of this.#runs)
      if (other.owner === owner && other.jobId === jobId && other.submittedAtMs !== submittedAtMs) this.#abort(other, 'another job took its id');
    const controller = new AbortController();
    const waiting = new Map<number, { index: number; attempt: number }>();
    for (const t of tasks) waiting.set(runKey(t.index, t.attempt), { index: t.index, attempt: t.attempt });
    const run: RunState = { jobId, submittedAtMs, signal: controller.signal, waiting, controller, unwanted: new Set(), owner, keep };
    this.#runs.add(run);
    return run;
  }

  /** Outcomes of a run's tasks: to the stream that owns it now, or held for the next. */
  settle(run: Run, outcomes: readonly TaskOutcome[]): void {
    const r = run as RunState;
    if (r.signal.aborted || outcomes.length === 0) return;
    const results = outcomes.map((o) => toResult(o, r.jobId));
    for (const o of results) r.waiting.delete(runKey(o.index, o.attempt));
    if (r.owner) r.owner.deliver(results);
    else this.#hold(results, r.submittedAtMs);
  }

  /** The run is over (its outcomes settled, or it gave up). */
  end(run: Run): void {
    this.#runs.delete(run as RunState);
  }

  /** `owner`'s job ended (`submittedAtMs` 0: whichever job of that id): its runs there stop. */
  cancel(owner: Receiver, jobId: string, submittedAtMs = 0): void {
    for (const run of this.#runs)
      if (run.owner === owner && run.jobId === jobId && (!submittedAtMs || run.submittedAtMs === submittedAtMs)) this.#abort(run, 'job cancelled');
  }

  /**
   * Task runs `owner` no longer wants (another copy finished first), per run
   * that has any: a run none of whose unfinished tasks is wanted stops.
   */
  cancelTasks(
    owner: Receiver,
    jobId: string,
    tasks: readonly { index: number; attempt: number }[],
  ): { tasks: { index: number; attempt: number }[]; stopped: boolean }[] {
    const said: { tasks: { index: number; attempt: number }[]; stopped: boolean }[] = [];
    for (const run of this.#runs) {
      if (run.owner !== owner || run.jobId !== jobId) continue;
      const named = tasks.filter((t) => run.waiting.has(runKey(t.index, t.attempt)));
      if (!named.length) continue;
      for (const t of named) run.unwanted.add(runKey(t.index, t.attempt));
      const stopped = [...run.waiting.keys()].every((k) => run.unwanted.has(k));
      if (stopped) this.#abort(run, 'another copy finished first');
      said.push({ tasks: named, stopped });
    }
    return said;
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
        this.#abort(run, 'coordinator stream closed');
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
    // The jobs this stream runs already (a stream that was open before): a run of another job under one of their ids is not handed over.
    const mine = new Map<string, number>();
    for (const run of this.#runs) if (run.owner === receiver) mine.set(run.jobId, run.submittedAtMs);
    const other = (jobId: string, at: number) => mine.has(jobId) && mine.get(jobId) !== at;
    const tasks: HeldTask[] = [];
    for (const run of this.#runs) {
      if (run.owner) continue;
      if (other(run.jobId, run.submittedAtMs)) {
        this.#abort(run, 'another job took its id');
        continue;
      }
      run.owner = receiver;
      for (const t of run.waiting.values())
        tasks.push({ jobId: run.jobId, index: t.index, attempt: t.attempt, finished: false, submittedAtMs: run.submittedAtMs });
    }
    const results: TaskResult[] = [];
    for (const { result: r, submittedAtMs } of this.#held) {
      if (other(r.jobId, submittedAtMs)) continue;
      results.push(r);
      tasks.push({ jobId: r.jobId, index: r.index, attempt: r.attempt, finished: true, submittedAtMs });
    }
    this.#held = [];
    this.#heldBytes = 0;
    return { tasks, results };
  }

  #abort(run: RunState, why: string): void {
    run.controller.abort(new Error(why));
    this.#runs.delete(run);
  }

  #hold(results: TaskResult[], submittedAtMs: number): void {
    for (const r of results) {
      const bytes = weight(r);
      if (this.#heldBytes + bytes > this.maxBytes) {
        this.log(
          `dropping the result of task ${r.index} of job ${r.jobId}: results held for the next coordinator passed ${this.maxBytes / 1048576} MiB; it runs again there`,
        );
        continue;
      }
      this.#held.push({ result: r, submittedAtMs });
      this.#heldBytes += bytes;
    }
  }
}

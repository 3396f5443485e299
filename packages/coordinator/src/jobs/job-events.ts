/**
 * What a live job's watchers hear: its events, coalesced to one per
 * EVENT_INTERVAL_MS (the last one always at once), at least every
 * STILL_RUNNING_EVENT_MS while it runs, the log lines of its tasks (the
 * first MAX_LIVE_LOG_LINES also stored), and for a watcher that asked, each
 * map output once (a tap).
 */
import type { JobEvent, JobSummary, LogLine, TaskOutput } from '@picompute/sdk/wire';
import { withOutputs } from '../output-events.js';
import type { OutputsByIndex } from '../state/outputs-by-index.js';
import type { StateStore } from '../state/store.js';
import type { JobRecord } from './job-record.js';
import { eventFromSummary } from './job-views.js';
import { keyedResult } from './keyed-result.js';

export type Watcher = (ev: JobEvent) => void;

const EVENT_INTERVAL_MS = 100;
const MAX_LIVE_LOG_LINES = 10_000;
/** A running job's watchers hear from it at least this often: a stalled job still shows what it waits for, and for how long. */
const STILL_RUNNING_EVENT_MS = 1000;
/** Results up to this size ride on the COMPLETED event (the client then needs no GetResult). */
const INLINE_RESULT_BYTES = 64 * 1024;
/** Reading a big finished job's outputs only to find them too big to inline is not worth it. */
const INLINE_RESULT_MAX_TASKS = 4096;

type Result = { reduced: boolean; keyed: boolean; values: Buffer[] };

export class JobEvents {
  readonly #watchers = new Map<JobRecord, Set<Watcher>>();
  readonly #logCount = new Map<JobRecord, number>();
  /** Per job, the watchers that asked for map outputs, and the outputs finished since their last event. */
  readonly #taps = new Map<JobRecord, { watchers: Set<Watcher>; since: TaskOutput[] }>();
  readonly #pendingLogs = new Map<JobRecord, LogLine[]>();
  readonly #timers = new Map<JobRecord, NodeJS.Timeout>();
  readonly #stillRunning: NodeJS.Timeout;

  constructor(
    private readonly store: StateStore,
    private readonly outputsByIndex: OutputsByIndex,
    live: () => Iterable<JobRecord>,
  ) {
    this.#stillRunning = setInterval(() => {
      for (const job of live()) if (job.state === 'RUNNING') this.notify(job);
    }, STILL_RUNNING_EVENT_MS).unref();
  }

  /** A task's log lines as the job's log: all for the watchers, the first MAX_LIVE_LOG_LINES of a job also stored. */
  keepLogs(job: JobRecord, task: number, node: string, lines: readonly string[]): LogLine[] {
    if (!lines.length) return [];
    const added = lines.map((line) => ({ task, node, line }));
    const kept = this.#logCount.get(job) ?? 0;
    if (kept < MAX_LIVE_LOG_LINES) {
      const stored = added.slice(0, MAX_LIVE_LOG_LINES - kept);
      this.#logCount.set(job, kept + stored.length);
      this.store.logs(Number(job.id), stored);
    }
    return added;
  }

  /** A map output finished: watchers with a tap get it on their next event. */
  output(job: JobRecord, output: TaskOutput): void {
    this.#taps.get(job)?.since.push(output);
  }

  /**
   * Calls `watcher` now with the job's state, then at most every 100 ms
   * while it changes, and once at the end. With `outputs`, the events also
   * carry each map output once (the ones finished so far on the first).
   */
  watch(job: JobRecord, watcher: Watcher, outputs: boolean): () => void {
    if (outputs) {
      for (const e of withOutputs(job.event(), this.#outputsSoFar(job))) watcher(e);
      let tap = this.#taps.get(job);
      if (!tap) this.#taps.set(job, (tap = { watchers: new Set(), since: [] }));
      tap.watchers.add(watcher);
    } else watcher(job.event());
    let watchers = this.#watchers.get(job);
    if (!watchers) this.#watchers.set(job, (watchers = new Set()));
    watchers.add(watcher);
    return () => {
      this.#watchers.get(job)?.delete(watcher);
      this.#taps.get(job)?.watchers.delete(watcher);
    };
  }

  /** A job that ended before its client watched (a tiny job often has): one event, the result riding along when small. */
  watchEnded(summary: JobSummary, result: () => Result, watcher: Watcher, outputs: boolean): () => void {
    const ev = eventFromSummary(summary);
    if (ev.state === 'COMPLETED' && ev.tasksTotal <= INLINE_RESULT_MAX_TASKS) ev.result = smallResult(result());
    const { indices, values } = outputs ? this.outputsByIndex.get(Number(summary.jobId)) : { indices: [], values: [] };
    for (const e of withOutputs(
      ev,
      indices.map((index, i) => ({ index, value: values[i]! })),
    ))
      watcher(e);
    return () => {};
  }

  /** Sends the job's state to its watchers, coalescing to one event per interval except the last. */
  notify(job: JobRecord, logs: LogLine[] = []): void {
    const watchers = this.#watchers.get(job);
    if (!watchers?.size) return;
    let queued = this.#pendingLogs.get(job);
    if (!queued) this.#pendingLogs.set(job, (queued = []));
    if (logs.length) queued.push(...logs);
    // An event is due already (most calls, one per finished task): it will carry the state as it is then.
    if (!job.final && this.#timers.has(job)) return;
    const emit = () => {
      this.#timers.delete(job);
      const ev: JobEvent = job.event(this.#pendingLogs.get(job) ?? []);
      if (job.state === 'COMPLETED')
        ev.result = job.result
          ? smallResult(job.shuffle ? keyedResult(job.result) : { reduced: true, keyed: false, values: [job.result] })
          : this.#smallMapResult(job);
      this.#pendingLogs.delete(job);
      const tap = this.#taps.get(job);
      const outputs = tap?.since.splice(0) ?? [];
      for (const w of watchers) {
        if (tap?.watchers.has(w)) for (const e of withOutputs(ev, outputs)) w(e);
        else w(ev);
      }
    };
    if (job.final) {
      clearTimeout(this.#timers.get(job));
      emit();
    } else if (!this.#timers.has(job)) {
      this.#timers.set(job, setTimeout(emit, EVENT_INTERVAL_MS));
    }
  }

  /** The job ended (its last event went out): forget its watchers. */
  ended(job: JobRecord): void {
    this.#watchers.delete(job);
    this.#taps.delete(job);
    this.#logCount.delete(job);
  }

  close(): void {
    clearInterval(this.#stillRunning);
  }

  /** A completed map job's outputs, from the state database, when few enough to ride on its last event. */
  #smallMapResult(job: JobRecord): Result | null {
    if (job.total > INLINE_RESULT_MAX_TASKS) return null;
    this.store.flush();
    return smallResult({ reduced: false, keyed: false, values: this.store.outputs(Number(job.id)) });
  }

  /** A live job's finished map outputs: in memory, or (a fold job's, once folded) in the state database. */
  #outputsSoFar(job: JobRecord): TaskOutput[] {
    const out: TaskOutput[] = [];
    let stored: Map<number, Buffer> | undefined;
    for (let index = 0; index < job.total; index++) {
      if (!job.done[index]) continue;
      let value = job.outputs[index];
      if (!value) {
        if (!stored) {
          this.store.flush();
          const s = this.outputsByIndex.get(Number(job.id));
          stored = new Map(s.indices.map((i, k) => [i, s.values[k]!]));
        }
        value = stored.get(index);
      }
      // A fold job on the embedded cluster stores no map outputs: one folded before this watch began is gone.
      if (value) out.push({ index, value });
    }
    return out;
  }
}

function smallResult(result: Result): Result | null {
  let size = 0;
  for (const v of result.values) if ((size += v.length) > INLINE_RESULT_BYTES) return null;
  return result;
}

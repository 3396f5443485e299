/**
 * Where and when each task ran, kept for the last jobs (capped in total, so
 * a million-task job cannot fill the coordinator's memory), and written out
 * as Chrome trace events: one process per node, one thread per agent worker
 * thread, one complete ("X") event per task attempt. Perfetto and
 * chrome://tracing open the file as is. Timestamps are the agents' clocks.
 */
import type { TaskResult } from '@picompute/sdk/wire';

/** Spans kept over all jobs: ~31 bytes each in columns, ~3 MiB at most (a 1 GB Pi runs the coordinator too). */
const MAX_SPANS = 100_000;

interface Span {
  node: string;
  thread: number;
  index: number;
  attempt: number;
  startMs: number;
  durationMs: number;
  ok: boolean;
}

/**
 * One job's spans in typed arrays, not an object each: every finished task
 * adds one, and 100,000 live objects were copied by each young-generation
 * collection until they were promoted (W1 through real daemons: ~1 µs of the
 * coordinator's CPU per task).
 */
class JobSpans {
  length = 0;
  readonly #nodes: string[] = [];
  readonly #nodeIds = new Map<string, number>();
  #node = new Uint16Array(64);
  #thread = new Uint32Array(64);
  #index = new Int32Array(64);
  #attempt = new Uint32Array(64);
  #ok = new Uint8Array(64);
  #startMs = new Float64Array(64);
  #durationMs = new Float64Array(64);

  push(node: string, r: TaskResult): void {
    if (this.length === this.#index.length) this.#resize(this.length * 2);
    let id = this.#nodeIds.get(node);
    if (id === undefined) {
      this.#nodeIds.set(node, (id = this.#nodes.length));
      this.#nodes.push(node);
    }
    const i = this.length++;
    this.#node[i] = id;
    this.#thread[i] = r.thread ?? 0;
    this.#index[i] = r.index;
    this.#attempt[i] = r.attempt;
    this.#ok[i] = r.ok ? 1 : 0;
    this.#startMs[i] = r.startedAtMs || Date.now() - r.durationMs;
    this.#durationMs[i] = r.durationMs;
  }

  /** Drops the first `n` spans; returns how many went. */
  dropFirst(n: number): number {
    for (const column of [this.#node, this.#thread, this.#index, this.#attempt, this.#ok, this.#startMs, this.#durationMs])
      column.copyWithin(0, n, this.length);
    this.length -= n;
    return n;
  }

  at(i: number): Span {
    return {
      node: this.#nodes[this.#node[i]!]!,
      thread: this.#thread[i]!,
      index: this.#index[i]!,
      attempt: this.#attempt[i]!,
      startMs: this.#startMs[i]!,
      durationMs: this.#durationMs[i]!,
      ok: this.#ok[i] === 1,
    };
  }

  #resize(size: number): void {
    const grow = <T extends Uint16Array | Uint32Array | Int32Array | Uint8Array | Float64Array>(old: T, make: new (n: number) => T): T => {
      const next = new make(size);
      next.set(old.subarray(0, this.length) as never);
      return next;
    };
    this.#node = grow(this.#node, Uint16Array);
    this.#thread = grow(this.#thread, Uint32Array);
    this.#index = grow(this.#index, Int32Array);
    this.#attempt = grow(this.#attempt, Uint32Array);
    this.#ok = grow(this.#ok, Uint8Array);
    this.#startMs = grow(this.#startMs, Float64Array);
    this.#durationMs = grow(this.#durationMs, Float64Array);
  }
}

export class TraceRecorder {
  /** Insertion order is job order: the oldest job is dropped first. */
  readonly #jobs = new Map<string, JobSpans>();
  #spans = 0;
  /** Jobs whose early spans were dropped to stay under the cap: their trace says so. */
  readonly #truncated = new Set<string>();

  constructor(private readonly maxSpans = MAX_SPANS) {}

  record(jobId: string, node: string, r: TaskResult): void {
    let spans = this.#jobs.get(jobId);
    if (!spans) this.#jobs.set(jobId, (spans = new JobSpans()));
    spans.push(node, r);
    if (++this.#spans > this.maxSpans) this.#evict();
  }

  #evict(): void {
    const [oldest, spans] = this.#jobs.entries().next().value as [string, JobSpans];
    if (this.#jobs.size > 1) {
      this.#jobs.delete(oldest);
      this.#spans -= spans.length;
      return;
    }
    // One job alone over the cap: keep its latest half.
    this.#spans -= spans.dropFirst(spans.length >> 1);
    this.#truncated.add(oldest);
  }

  has(jobId: string): boolean {
    return this.#jobs.has(jobId);
  }

  /** The Chrome trace event file (JSON object form) of a job, or undefined when none of its tasks is kept. */
  chromeTrace(jobId: string, jobName: string): object | undefined {
    const kept = this.#jobs.get(jobId);
    if (!kept) return undefined;
    const spans = Array.from({ length: kept.length }, (_, i) => kept.at(i));
    let t0 = Infinity;
    for (const s of spans) t0 = Math.min(t0, s.startMs);
    const pids = new Map<string, number>();
    const events: object[] = [];
    for (const s of spans) {
      let pid = pids.get(s.node);
      if (pid === undefined) {
        pids.set(s.node, (pid = pids.size + 1));
        events.push({ ph: 'M', name: 'process_name', pid, tid: 0, args: { name: s.node } });
      }
      events.push({
        ph: 'X',
        name: s.index === -1 ? 'reduce' : s.index < 0 ? 'combine' : `task ${s.index}`,
        cat: s.ok ? 'ok' : 'failed',
        pid,
        tid: s.thread,
        ts: Math.round((s.startMs - t0) * 1000),
        dur: Math.max(1, Math.round(s.durationMs * 1000)),
        args: { index: s.index, attempt: s.attempt, ok: s.ok },
      });
    }
    const threads = new Set(spans.map((s) => `${pids.get(s.node)}:${s.thread}`));
    for (const t of threads) {
      const [pid, tid] = t.split(':').map(Number);
      events.push({ ph: 'M', name: 'thread_name', pid, tid, args: { name: `worker ${tid}` } });
    }
    return { traceEvents: events, displayTimeUnit: 'ms', otherData: { job: jobId, name: jobName, startedAtMs: t0, truncated: this.#truncated.has(jobId) } };
  }
}

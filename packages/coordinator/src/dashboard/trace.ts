/**
 * Where and when each task ran, kept for the last jobs (capped in total, so
 * a million-task job cannot fill the coordinator's memory), and written out
 * as Chrome trace events: one process per node, one thread per agent worker
 * thread, one complete ("X") event per task attempt. Perfetto and
 * chrome://tracing open the file as is. Timestamps are the agents' clocks.
 */
import type { TaskResult } from '@picompute/sdk/wire';

/** Spans kept over all jobs: ~80 bytes each, ~8 MiB at most (a 1 GB Pi runs the coordinator too). */
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

export class TraceRecorder {
  /** Insertion order is job order: the oldest job is dropped first. */
  readonly #jobs = new Map<string, Span[]>();
  #spans = 0;
  /** Jobs whose early spans were dropped to stay under the cap: their trace says so. */
  readonly #truncated = new Set<string>();

  constructor(private readonly maxSpans = MAX_SPANS) {}

  record(jobId: string, node: string, r: TaskResult): void {
    let spans = this.#jobs.get(jobId);
    if (!spans) this.#jobs.set(jobId, (spans = []));
    spans.push({
      node,
      thread: r.thread ?? 0,
      index: r.index,
      attempt: r.attempt,
      startMs: r.startedAtMs || Date.now() - r.durationMs,
      durationMs: r.durationMs,
      ok: r.ok,
    });
    if (++this.#spans > this.maxSpans) this.#evict();
  }

  #evict(): void {
    const [oldest, spans] = this.#jobs.entries().next().value as [string, Span[]];
    if (this.#jobs.size > 1) {
      this.#jobs.delete(oldest);
      this.#spans -= spans.length;
      return;
    }
    // One job alone over the cap: keep its latest half.
    const drop = spans.splice(0, spans.length >> 1).length;
    this.#spans -= drop;
    this.#truncated.add(oldest);
  }

  has(jobId: string): boolean {
    return this.#jobs.has(jobId);
  }

  /** The Chrome trace event file (JSON object form) of a job, or undefined when none of its tasks is kept. */
  chromeTrace(jobId: string, jobName: string): object | undefined {
    const spans = this.#jobs.get(jobId);
    if (!spans) return undefined;
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

/**
 * What the dashboard shows, computed on the coordinator once a second while
 * someone watches, from the Cluster's summaries and its events. The cost
 * grows with nodes and live jobs, not with tasks: per job it keeps a capped
 * progress series, one row per agent thread, the last failures and log
 * lines; finished jobs are read from the state database only when one ends.
 */
import type { FinalJobState, JobSummary, TaskResult } from '@picompute/sdk/wire';
import type { Cluster } from '../cluster.js';
import { NodeSpeeds } from './node-speed.js';

const SAMPLES_KEPT = 300;
const FAILURES_KEPT = 20;
const LOG_LINES_KEPT = 200;
const HISTORY_SHOWN = 50;
/** Finished jobs whose detail (task stream, failures, logs) stays viewable. */
const FINISHED_DETAILS_KEPT = 10;
/** Detail is sent for at most this many jobs (the newest). */
const DETAILS_SENT = 5;
/** A thread that reported within this long, on a node with tasks in flight, counts as running. */
const RUNNING_WITHIN_MS = 2000;

interface ThreadRow {
  node: string;
  thread: number;
  task: number;
  ok: boolean;
  lastMs: number;
  at: number;
}

export interface Failure {
  task: number;
  attempt: number;
  node: string;
  thread: number;
  kind: string;
  message: string;
  stack: string;
  inputPreview: string;
  logs: string[];
}

interface JobDetail {
  /** [seconds since epoch, tasks done, bytes in, bytes out] once a second. */
  samples: [number, number, number, number][];
  inputBytes: number;
  resultBytes: number;
  threads: Map<string, ThreadRow>;
  /** The same rows by node, then thread: found per finished task without building its key (1,000 nodes made that ~1 µs). */
  rows: Map<string, Map<number, ThreadRow>>;
  failures: Failure[];
  logs: { task: number; node: string; line: string }[];
  endedAt: number;
}

export class DashboardModel {
  readonly #details = new Map<string, JobDetail>();
  #history: JobSummary[] | undefined;
  readonly #speeds: NodeSpeeds;

  constructor(private readonly cluster: Cluster) {
    this.#speeds = new NodeSpeeds((jobId) => {
      try {
        return cluster.summary(jobId).name;
      } catch {
        return undefined;
      }
    });
    cluster.events.on('taskEnded', (node, r) => (this.#taskEnded(node, r), this.#speeds.taskEnded(node, r)));
    cluster.events.on('dispatched', (_node, jobId, _n, bytes) => (this.#detail(jobId).inputBytes += bytes));
    cluster.events.on('jobEnded', (jobId, state) => this.#jobEnded(jobId, state));
  }

  #detail(jobId: string): JobDetail {
    let d = this.#details.get(jobId);
    if (!d)
      this.#details.set(jobId, (d = { samples: [], inputBytes: 0, resultBytes: 0, threads: new Map(), rows: new Map(), failures: [], logs: [], endedAt: 0 }));
    return d;
  }

  #taskEnded(node: string, r: TaskResult): void {
    const d = this.#detail(r.jobId);
    d.resultBytes += r.output.length;
    // Updated in place: a row per finished task was garbage the next moment.
    const thread = r.thread ?? 0;
    let byThread = d.rows.get(node);
    if (!byThread) d.rows.set(node, (byThread = new Map()));
    const row = byThread.get(thread);
    if (row) {
      row.task = r.index;
      row.ok = r.ok;
      row.lastMs = r.durationMs;
      row.at = Date.now();
    } else {
      const added = { node, thread, task: r.index, ok: r.ok, lastMs: r.durationMs, at: Date.now() };
      byThread.set(thread, added);
      d.threads.set(`${node}#${thread}`, added);
    }
    for (const line of r.logs) pushCapped(d.logs, { task: r.index, node, line }, LOG_LINES_KEPT);
    if (!r.ok && r.error) {
      pushCapped(
        d.failures,
        {
          task: r.index,
          attempt: r.attempt,
          node,
          thread: r.thread ?? 0,
          kind: r.error.kind,
          message: r.error.message,
          stack: r.error.stack,
          inputPreview: r.error.inputPreview,
          logs: r.logs.slice(-20),
        },
        FAILURES_KEPT,
      );
    }
  }

  #jobEnded(jobId: string, _state: FinalJobState): void {
    this.#detail(jobId).endedAt = Date.now();
    this.#speeds.jobEnded(jobId);
    this.#history = undefined;
    const ended = [...this.#details.entries()].filter(([, d]) => d.endedAt).sort((a, b) => a[1].endedAt - b[1].endedAt);
    for (const [id] of ended.slice(0, Math.max(0, ended.length - FINISHED_DETAILS_KEPT))) this.#details.delete(id);
  }

  /** The whole picture, for one Server-Sent Event. */
  snapshot(now = Date.now()): object {
    const nodes = this.cluster.nodes();
    const live = this.cluster.jobs({ active: true });
    this.#history ??= this.cluster.jobs({ finished: true }).slice(-HISTORY_SHOWN).reverse();
    const busyNodes = new Set(nodes.filter((n) => n.tasksInFlight > 0).map((n) => n.info.id));
    for (const j of live) {
      const d = this.#detail(j.jobId);
      const last = d.samples[d.samples.length - 1];
      if (!last || now / 1000 - last[0] >= 1) pushCapped(d.samples, [Math.floor(now / 1000), j.tasksDone, d.inputBytes, d.resultBytes], SAMPLES_KEPT);
    }
    const summaries = new Map<string, JobSummary>([...this.#history, ...live].map((j) => [j.jobId, j]));
    const shown = [...this.#details.keys()]
      .filter((id) => summaries.has(id))
      .sort((a, b) => Number(b) - Number(a))
      .slice(0, DETAILS_SENT);
    return {
      at: now,
      nodes: nodes.map((n) => ({
        id: n.info.id,
        address: n.address,
        state: n.state,
        cores: n.info.cores,
        coresBusy: n.coresBusy,
        memoryMb: n.info.memoryMb,
        freeMemoryMb: n.lastHeartbeat?.freeMemoryMb ?? null,
        load1: n.lastHeartbeat?.load1 ?? null,
        temperatureC: n.lastHeartbeat && Number.isFinite(n.lastHeartbeat.temperatureC) ? n.lastHeartbeat.temperatureC : null,
        throttled: n.lastHeartbeat?.throttled ?? -1,
        rttMs: n.rttMs,
        tasksDone: n.tasksDone,
        labels: n.info.labels,
        speed: this.#speeds.of(n.info.id) ?? null,
        // Measured by the agent at start, × the slowest node up (what `nodes` shows); null until the node has reported one.
        speedFactor: n.speedFactor > 0 ? n.speedFactor : null,
        slowed: n.slowed,
      })),
      queue: live.map(brief),
      shares: this.cluster.shares(),
      history: this.#history.map(brief),
      jobs: Object.fromEntries(
        shown.map((id) => {
          const d = this.#details.get(id)!;
          const threads = [...d.threads.values()].map((t) => ({
            ...t,
            state: !t.ok ? 'failed' : !d.endedAt && busyNodes.has(t.node) && now - t.at < RUNNING_WITHIN_MS ? 'running' : 'idle',
          }));
          return [
            id,
            {
              ...brief(summaries.get(id)!),
              samples: d.samples,
              inputBytes: d.inputBytes,
              resultBytes: d.resultBytes,
              threads,
              failures: d.failures,
              logs: d.logs,
              error: summaries.get(id)!.error,
            },
          ];
        }),
      ),
    };
  }
}

function brief(j: JobSummary) {
  return {
    jobId: j.jobId,
    name: j.name,
    user: j.user,
    state: j.state,
    reason: j.reason,
    priority: j.priority,
    tasksTotal: j.tasksTotal,
    tasksDone: j.tasksDone,
    tasksRunning: j.tasksRunning,
    tasksQueued: j.tasksQueued,
    wallMs: j.wallMs,
    cpuMs: j.cpuMs,
    submittedAtMs: j.submittedAtMs,
  };
}

function pushCapped<T>(list: T[], item: T, cap: number): void {
  list.push(item);
  if (list.length > cap) list.splice(0, list.length - cap);
}

/**
 * The coordinator's core: the node registry (one AgentLink per agent), the
 * live jobs, and the loop that asks the scheduler for a plan whenever
 * something changes and carries it out. Every change that must survive a
 * restart goes to the StateStore; all gRPC handling is in ./service.ts.
 */
import type { Security } from '@picompute/sdk/auth';
import { formatDuration } from '@picompute/sdk/units';
import { FINAL_STATES, MAX_VALUE_BYTES } from '@picompute/sdk/wire';
import type { FinalJobState, JobEvent, JobSummary, LogLine, NodeStatus, SubmitRequest, TaskInput, TaskOutput, TaskResult, TaskStatus, UserShare } from '@picompute/sdk/wire';
import { AgentLink } from './agent-link.js';
import { ClusterEvents } from './cluster-events.js';
import type { WorkDialer } from './agent-link.js';
import type { BlobStore } from './blob-store.js';
import { FoldPlan } from './fold-plan.js';
import { JobInputs } from './job-inputs.js';
import { eventFromSummary, JobRecord, REDUCE_INDEX, summaryFromRow } from './job-record.js';
import type { Watcher } from './job-record.js';
import { couldEverRun, schedule } from './scheduler/index.js';
import type { JobSnapshot, NodeSnapshot } from './scheduler/index.js';
import type { StateStore } from './state/store.js';
import { withOutputs } from './output-events.js';
import { OutputsByIndex } from './state/outputs-by-index.js';
import { RequeueStore } from './state/requeue.js';
import { SharedBlobs } from './state/shared-blobs.js';
import { TaskRuns } from './state/task-runs.js';
import { failedState, TaskTable } from './task-table.js';

/** Attempts a task gets when the nodes running it are lost (not when it throws). */
const MAX_ATTEMPTS_ON_NODE_LOSS = 3;
const EVENT_INTERVAL_MS = 100;
const MAX_LIVE_LOG_LINES = 10_000;
/** A running job's watchers hear from it at least this often: a stalled job still shows what it waits for, and for how long. */
const STILL_RUNNING_EVENT_MS = 1000;
/** Slurm's DefaultTime: the per-task time limit of a job that names none, so a task that never settles cannot hold a job forever. */
export const DEFAULT_TIME_LIMIT_MS = 3_600_000;

/** Per-task time limits: `defaultMs` for a job that asks for none, and the most a job may ask for (0: no cap), like Slurm's MaxTime. */
export interface TimeLimits {
  defaultMs: number;
  maxMs: number;
}

/** How long `nodes` keeps listing an agent that said goodbye, as `down (stopped)`: long enough to notice it went. */
export const STOPPED_LISTED_MS = 10 * 60_000;
/** An agent proving itself at a new address while its old link has been quiet this long has moved (heartbeats come every second). */
const TWIN_SILENT_MS = 1500;
/** Time a submit may spend storing inputs per event-loop turn. */
const INPUT_SLICE_MS = 20;

export class UserError extends Error {
  override name = 'UserError';
  constructor(
    message: string,
    readonly notFound = false,
  ) {
    super(message);
  }
}

export class Cluster {
  readonly #links = new Map<string, AgentLink>();
  readonly #jobs = new Map<string, JobRecord>();
  readonly #drained: Set<string>;
  readonly #logCount = new Map<JobRecord, number>();
  /** Agents forgotten after their goodbye, by address: their last status and when they left. */
  readonly #gone = new Map<string, { status: NodeStatus; at: number }>();
  /** By agent id: the address of a twin link given up because the agent was already reachable elsewhere. */
  readonly #spares = new Map<string, string>();
  #tickScheduled = false;
  #closed = false;
  /** For watchers (metrics, dashboard, traces); see ./cluster-events.ts. */
  readonly events = new ClusterEvents();
  readonly #stillRunning: NodeJS.Timeout;
  readonly #taskRuns: TaskRuns;
  readonly #outputsByIndex: OutputsByIndex;
  readonly #requeueStore: RequeueStore;
  readonly #sharedBlobs: SharedBlobs;
  /** Per job, the watchers that asked for map outputs, and the outputs finished since their last event. */
  readonly #taps = new Map<JobRecord, { watchers: Set<Watcher>; since: TaskOutput[] }>();

  constructor(
    private readonly store: StateStore,
    private readonly blobs: BlobStore,
    private readonly log: (line: string) => void,
    private readonly security: Security,
    private readonly deadAfterMs?: number,
    private readonly timeLimits: TimeLimits = { defaultMs: DEFAULT_TIME_LIMIT_MS, maxMs: 0 },
  ) {
    this.#stillRunning = setInterval(() => {
      for (const job of this.#jobs.values()) if (job.state === 'RUNNING') this.#notify(job);
    }, STILL_RUNNING_EVENT_MS).unref();
    this.#drained = store.drained();
    this.#taskRuns = new TaskRuns(store.db);
    this.#outputsByIndex = new OutputsByIndex(store.db);
    this.#requeueStore = new RequeueStore(store.db);
    this.#sharedBlobs = new SharedBlobs(store.db);
    for (const { job, tasks } of store.activeJobs()) {
      const record = JobRecord.recover(job, tasks);
      this.#jobs.set(record.id, record);
      this.#updateDependency(record);
    }
    if (this.#jobs.size) this.log(`recovered ${this.#jobs.size} unfinished job(s) from the state database`);
    store.onNotStored = (ids) => this.#failNotStored(ids);
  }

  /** Jobs whose task outputs the full disk could not take: failed, so the rest carry on and a restart does not meet them again. */
  #failNotStored(ids: Set<number>): void {
    for (const id of ids) {
      const job = this.#jobs.get(String(id));
      if (!job || job.final) continue;
      this.#finish(job, 'FAILED');
    }
  }

  #notStoredError(): string {
    return `${this.store.disk.message.split(':')[0]}: this job's task outputs could not be stored, so it was stopped; free space there (or restart the coordinator with a --state-dir on a bigger disk) and submit it again`;
  }

  // ------------------------------------------------------------ nodes

  /**
   * Dials an agent (named by hand, found by mDNS, or registering itself); a
   * second call for the same address is a no-op. `dialWork` replaces gRPC
   * for an agent in this very process (the embedded cluster).
   */
  addAgent(address: string, dialWork?: WorkDialer): void {
    if (this.#closed || this.#links.has(address)) return;
    this.#gone.delete(address);
    const link = new AgentLink(
      address,
      {
        up: (l) => {
          const twin = [...this.#links.values()].find((o) => o !== l && o.up && o.id === l.id);
          if (twin && twin.silentMs >= TWIN_SILENT_MS) {
            // The agent moved (a new lease): it just proved the key at the new address, the old link has gone quiet.
            this.log(`agent ${l.id} moved from ${twin.address} to ${l.address}`);
            this.#forget(twin, `it moved to ${l.address}`);
          } else if (twin) {
            // Found twice (named by hand and by mDNS, say): keep the first link, and this address in case the first goes.
            this.log(`agent ${l.id} is reachable at ${twin.address} and ${l.address}; using ${twin.address}`);
            this.#spares.set(l.id, l.address);
            this.#forget(l, 'a twin');
            return;
          }
          this.log(`agent ${l.id} up at ${l.address} (${l.info?.cores} cores)`);
          // Back (perhaps at another address): no longer listed as stopped.
          for (const [address, g] of this.#gone) if (g.status.info.id === l.id) this.#gone.delete(address);
          this.#kick();
        },
        down: (l, reason) => {
          this.#requeue(l, reason);
          // Its twin's address may be where the agent is now.
          const spare = this.#spares.get(l.id);
          if (spare && spare !== l.address) {
            this.#spares.delete(l.id);
            this.addAgent(spare);
          }
        },
        results: (l, results) => this.#onResults(l, results),
        needBundle: (l, hash) => {
          const bytes = this.blobs.get(hash) ?? this.store.bundle(hash);
          if (bytes) l.sendBundle(hash, bytes);
          else this.log(`agent ${l.id} asked for bundle ${hash.slice(0, 12)}, which this coordinator does not have`);
        },
      },
      this.log,
      this.security,
      this.deadAfterMs,
      dialWork,
    );
    this.#links.set(address, link);
  }

  /** Forgets an agent (its mDNS goodbye was heard); its running tasks run again elsewhere. */
  removeAgent(address: string, reason = 'removed'): void {
    const link = this.#links.get(address);
    if (!link) return;
    this.#forget(link, reason);
    if (link.info) this.#gone.set(address, { status: { ...this.#status(link), state: 'down (stopped)', coresBusy: 0, tasksInFlight: 0 }, at: Date.now() });
  }

  /** Stops dialling a link; its running tasks run again elsewhere. */
  #forget(link: AgentLink, reason: string): void {
    this.#links.delete(link.address);
    if (link.up) this.#requeue(link, reason);
    link.close();
  }

  /**
   * Nodes that proved the cluster key at least once (an address only
   * advertised, since mDNS is a hint, or never reached is no node), and for
   * STOPPED_LISTED_MS those that were removed (so a stopped node does not just vanish).
   */
  nodes(): NodeStatus[] {
    const now = Date.now();
    for (const [address, g] of this.#gone) if (now - g.at > STOPPED_LISTED_MS) this.#gone.delete(address);
    return [...[...this.#links.values()].filter((l) => l.info).map((l) => this.#status(l)), ...[...this.#gone.values()].map((g) => g.status)];
  }

  /** Stops (or allows again) placing tasks on a node; remembered across restarts. */
  drain(node: string, drain: boolean): NodeStatus {
    const link = this.#link(node);
    if (drain) this.#drained.add(link.id);
    else this.#drained.delete(link.id);
    this.store.setDrained(link.id, drain);
    this.log(`node ${link.id} ${drain ? 'draining' : 'resumed'}`);
    this.#kick();
    return this.#status(link);
  }

  #link(node: string): AgentLink {
    const link = [...this.#links.values()].find((l) => l.id === node || l.address === node || l.info?.hostname === node);
    if (!link) throw new UserError(`no node ${node}; see \`picompute nodes\``, true);
    return link;
  }

  #status(l: AgentLink): NodeStatus {
    const cores = l.info?.cores ?? 0;
    const busy = l.up ? Math.min(cores, l.coresInFlight) : 0;
    const drained = this.#drained.has(l.id);
    const state = !l.up ? (l.stopped ? 'down (stopped)' : 'down') : drained ? (l.tasksInFlight ? 'draining' : 'drained') : busy === 0 ? 'idle' : busy >= cores ? 'allocated' : 'mixed';
    return {
      info: l.info ?? { id: l.address, hostname: '', cores: 0, memoryMb: 0, arch: '', nodeVersion: '', version: '', labels: [] },
      address: l.address,
      state,
      coresBusy: busy,
      tasksInFlight: l.tasksInFlight,
      tasksDone: l.tasksDone,
      lastHeartbeat: l.heartbeat ?? null,
      rttMs: l.rttMs,
    };
  }

  // ------------------------------------------------------------ jobs

  /** Resolves when every job submitted so far is on disk (see StateStore.synced). */
  synced(): Promise<void> {
    return this.store.synced();
  }

  submit(request: SubmitRequest): JobRecord {
    if (this.store.disk.full) throw this.store.disk.refuse();
    const bundle = this.blobs.get(request.bundleHash) ?? this.store.bundle(request.bundleHash);
    if (!bundle) throw new UserError(`job bundle ${request.bundleHash.slice(0, 12)} was not uploaded; upload it with PutBlob first`);
    const packed = request.inputsHash ? this.blobs.take(request.inputsHash) : [request.inputs ?? Buffer.alloc(0)];
    if (!packed) throw new UserError(`job inputs ${request.inputsHash.slice(0, 20)} were not uploaded; upload them with PutBlob (under an upload:<random> name) first`);
    let inputs: JobInputs;
    try {
      inputs = JobInputs.unpack(packed);
    } catch (err) {
      throw new UserError(`job inputs cannot be read: ${(err as Error).message}`);
    }
    if (inputs.count !== request.taskCount) throw new UserError(`job inputs hold ${inputs.count} tasks, but the request says ${request.taskCount}`);
    this.#checkRequest(request);
    if (request.sharedHash) this.#keepShared(request.sharedHash);
    const submittedAt = Date.now();
    // The inputs live in the tasks table from here on; the request keeps no copy.
    request = { ...request, inputs: Buffer.alloc(0), timeLimitMs: this.#timeLimit(request.timeLimitMs) };
    const id = String(this.store.insertJob(request, inputs.count, bundle, submittedAt));
    this.blobs.delete(request.bundleHash);
    const job = new JobRecord(id, request, inputs, submittedAt);
    this.#jobs.set(id, job);
    job.stored = this.#storeInputs(job);
    // Seen by the service (which answers the client), not lost here.
    job.stored.catch(() => {});
    this.log(`job ${id} (${request.name}) submitted by ${request.user || 'unknown'}: ${inputs.count} tasks`);
    this.#updateDependency(job);
    if (!job.final && inputs.count === 0 && !request.hasReduce) this.#finish(job, 'COMPLETED');
    this.#kick();
    return job;
  }

  /** The job's per-task limit: what it asked for (refused over the maximum), else the default (capped by the maximum). */
  #timeLimit(requested: number): number {
    const { defaultMs, maxMs } = this.timeLimits;
    if (maxMs && requested > maxMs) {
      throw new UserError(`--time-limit ${formatDuration(requested)} is over this coordinator's maximum of ${formatDuration(maxMs)} (its --max-time-limit): ask for ${formatDuration(maxMs)} or less, or split the work into shorter tasks`);
    }
    if (requested > 0) return requested;
    return maxMs ? Math.min(defaultMs, maxMs) : defaultMs;
  }

  /** Moves a job's uploaded shared value into the state database, where agents fetch it from. */
  #keepShared(hash: string): void {
    const uploaded = this.blobs.get(hash);
    if (uploaded) {
      this.#sharedBlobs.put(hash, uploaded);
      this.blobs.delete(hash);
    } else if (!this.store.bundle(hash)) {
      throw new UserError(`the job's shared value ${hash.slice(0, 12)} was not uploaded; upload it with PutBlob (named by its sha256) first`);
    }
  }

  /**
   * Writes a new job's inputs a slice per event-loop turn. Its tasks run
   * meanwhile (a restart before the last slice drops the job, whose client
   * was never answered); a job that ends first needs the rest no more.
   */
  async #storeInputs(job: JobRecord): Promise<void> {
    let next = 0;
    while (next < job.total && !job.final && !this.#closed) {
      if (next > 0) await new Promise((r) => setImmediate(r));
      try {
        next = this.store.insertInputs(Number(job.id), job.inputs, next, INPUT_SLICE_MS);
      } catch (err) {
        if (!job.final) {
          job.error = (err as Error).message;
          this.#finish(job, 'FAILED');
        }
        throw err;
      }
    }
  }

  /** Refuses what could never run, saying why (Slurm refuses at sbatch too). */
  #checkRequest(r: SubmitRequest): void {
    if (r.dependency) {
      const m = /^afterok:(\d+)$/.exec(r.dependency);
      if (!m) throw new UserError(`--dependency "${r.dependency}" is not afterok:JOBID`);
      if (!this.#jobs.has(m[1]!) && !this.store.job(Number(m[1]))) throw new UserError(`--dependency afterok:${m[1]}: no job with id ${m[1]}`);
    }
    const shape = { coresPerTask: Math.max(1, r.coresPerTask || 1), memoryMb: r.memoryMb, constraint: r.constraint || undefined };
    const known = [...this.#links.values()].filter((l) => l.info).map((l) => ({ id: l.id, cores: l.info!.cores, memoryMb: l.info!.memoryMb, labels: l.info!.labels }));
    if (known.length && !known.some((n) => couldEverRun(n, shape))) {
      const biggest = known.reduce((a, b) => (b.cores > a.cores ? b : a));
      const wants = [`${shape.coresPerTask} cores`, r.memoryMb ? `${r.memoryMb} MiB` : '', shape.constraint ? `label "${shape.constraint}"` : ''].filter(Boolean).join(', ');
      throw new UserError(
        `no node could ever run this job's tasks (each wants ${wants}); the largest node, ${biggest.id}, has ${biggest.cores} cores and ${biggest.memoryMb} MiB` +
          (shape.constraint ? `; nodes with that label: ${known.filter((n) => n.labels.includes(shape.constraint!)).map((n) => n.id).join(', ') || 'none'}` : ''),
      );
    }
  }

  /**
   * What each live job holds on the nodes now: tasks on a core, tasks queued
   * in an agent's window (two core-slots per core) and the cores in use,
   * which can never exceed the nodes' cores.
   */
  #occupancy(): Map<string, { running: number; queued: number; cores: number }> {
    const total = new Map<string, { running: number; queued: number; cores: number }>();
    for (const l of this.#links.values()) {
      if (!l.up) continue;
      for (const [jobId, o] of l.occupancy()) {
        const t = total.get(jobId);
        if (!t) total.set(jobId, { ...o });
        else {
          t.running += o.running;
          t.queued += o.queued;
          t.cores += o.cores;
        }
      }
    }
    return total;
  }

  #liveSummary(job: JobRecord, occupancy = this.#occupancy()): JobSummary {
    const o = occupancy.get(job.id);
    return { ...job.summary(), tasksRunning: o?.running ?? 0, tasksQueued: o?.queued ?? 0 };
  }

  /** A live job, or a finished one read from the state database. */
  summary(id: string): JobSummary {
    const live = this.#jobs.get(id);
    if (live) return this.#liveSummary(live);
    const row = /^\d+$/.test(id) ? this.store.job(Number(id)) : undefined;
    if (!row) throw new UserError(`no job with id ${id}`, true);
    return summaryFromRow(row);
  }

  jobs(filter: { active?: boolean; finished?: boolean } = {}): JobSummary[] {
    const occupancy = this.#occupancy();
    const live = [...this.#jobs.values()].map((j) => this.#liveSummary(j, occupancy));
    if (filter.active) return live;
    const finished = this.store.jobs().filter((r) => !this.#jobs.has(String(r.id))).map(summaryFromRow);
    if (filter.finished) return finished.filter((j) => j.endedAtMs > 0);
    return [...finished, ...live].sort((a, b) => Number(a.jobId) - Number(b.jobId));
  }

  /** Cores each user's tasks run on now (not the tasks queued in agents' windows), and their share of all in use. */
  shares(): UserShare[] {
    const occupancy = this.#occupancy();
    const cores = new Map<string, number>();
    const jobs = new Map<string, number>();
    for (const j of this.#jobs.values()) {
      jobs.set(j.user, (jobs.get(j.user) ?? 0) + 1);
      cores.set(j.user, (cores.get(j.user) ?? 0) + (occupancy.get(j.id)?.cores ?? 0));
    }
    const total = [...cores.values()].reduce((a, b) => a + b, 0);
    return [...jobs.keys()].sort().map((user) => ({ user, coresInUse: cores.get(user) ?? 0, share: total ? (cores.get(user) ?? 0) / total : 0, jobs: jobs.get(user)! }));
  }

  /** The stored result: one reduced value, or the map outputs in input order. */
  result(id: string): { reduced: boolean; values: Buffer[] } {
    const s = this.summary(id);
    if (s.state !== 'COMPLETED') throw new UserError(`job ${id} is ${s.state}, it has no result${s.error ? `: ${s.error}` : ''}`);
    const reduced = this.store.result(Number(id));
    if (reduced) return { reduced: true, values: [reduced] };
    const values = this.store.outputs(Number(id));
    // A purge (past --keep) deletes outputs a slice at a time before the job's row.
    if (values.length !== s.tasksTotal) throw new UserError(`job ${id}'s results are gone: it ended more than --keep ago and is being purged`, true);
    return { reduced: false, values };
  }

  /**
   * The stored result as pages of at most `limit` values, for a caller that
   * sends each page before reading the next (GetResult): a job of a million
   * outputs is then never all in memory, nor read in one turn of the loop.
   */
  resultPages(id: string): { reduced: boolean; page(limit: number): Buffer[] } {
    const s = this.summary(id);
    if (s.state !== 'COMPLETED') throw new UserError(`job ${id} is ${s.state}, it has no result${s.error ? `: ${s.error}` : ''}`);
    const reduced = this.store.result(Number(id));
    if (reduced) {
      let sent = false;
      return { reduced: true, page: () => (sent ? [] : ((sent = true), [reduced])) };
    }
    this.store.flush();
    let next = 0;
    return {
      reduced: false,
      page: (limit) => {
        const rows = this.store.outputPage(Number(id), next, limit);
        // A purge (past --keep) deletes outputs a slice at a time before the job's row.
        if (rows.some((r, i) => r.idx !== next + i) || (rows.length === 0 && next < s.tasksTotal)) throw new UserError(`job ${id}'s results are gone: it ended more than --keep ago and is being purged`, true);
        next += rows.length;
        return rows.map((r) => r.output);
      },
    };
  }

  /** Each map task's state and last run; an ended job's from the state database. */
  tasks(id: string): TaskStatus[] {
    const live = this.#jobs.get(id);
    if (live) return live.taskTable.rows();
    const s = this.summary(id);
    const saved = this.#taskRuns.load(Number(id));
    if (!saved) throw new UserError(`job ${id} ended ${s.state} before this coordinator kept a record of each task; see \`picompute jobs\` for its totals`);
    return new TaskTable(s.tasksTotal, saved).rows();
  }

  /**
   * The map outputs of the tasks that finished, by index, of a job that
   * ended (a COMPLETED one's are all there). A live job's are refused: they
   * are still changing, and its result is on its way.
   */
  partialResult(id: string): { indices: number[]; values: Buffer[] } {
    const s = this.summary(id);
    if (!FINAL_STATES.has(s.state)) {
      throw new UserError(`job ${id} is still ${s.state}; --partial is for a job that ended: wait for it (picompute result ${id}) or cancel it (picompute cancel ${id}) first`);
    }
    this.store.flush();
    return this.#outputsByIndex.get(Number(id));
  }

  /**
   * `picompute requeue ID --failed` (GNU parallel's --resume-failed): runs
   * again only the tasks of an ended job that did not succeed, reusing the
   * stored outputs of those that did, under the same id (as Slurm's
   * `scontrol requeue`); the job then ends with its whole result.
   */
  requeueFailed(id: string): JobSummary {
    const s = this.summary(id);
    if (!FINAL_STATES.has(s.state)) throw new UserError(`job ${id} is still ${s.state}; requeue it once it has ended (or cancel it first: picompute cancel ${id})`);
    if (s.state === 'COMPLETED') throw new UserError(`job ${id} COMPLETED: every task succeeded, so there is nothing to run again; submit the job file again to run it anew`);
    this.store.flush();
    const tasks = this.#requeueStore.tasks(Number(id));
    if (tasks.length !== s.tasksTotal) {
      throw new UserError(`job ${id}'s inputs were not kept (it ran on an embedded cluster, or ended on an older coordinator), so its tasks cannot run again; submit the job file again`);
    }
    const job = JobRecord.recover(this.#requeueStore.reopen(this.store.job(Number(id))!), tasks);
    this.#jobs.set(id, job);
    this.log(`job ${id} requeued: ${job.pending.length} of ${job.total} tasks run again, ${job.doneCount} kept`);
    this.#updateDependency(job);
    if (!job.final && job.doneCount === job.total && !job.fold) this.#finish(job, 'COMPLETED');
    this.#kick();
    return job.summary();
  }

  logs(id: string): LogLine[] {
    this.summary(id);
    this.store.flush();
    return this.store.jobLogs(Number(id));
  }

  cancel(id: string): JobSummary {
    const job = this.#jobs.get(id);
    if (!job) return this.summary(id);
    job.error = 'cancelled by the user';
    this.#finish(job, 'CANCELLED');
    return job.summary();
  }

  /**
   * Calls `watcher` now with the job's state, then at most every 100 ms
   * while it changes, and once at the end. With `outputs`, the events also
   * carry each map output once (the ones finished so far on the first).
   */
  watch(id: string, watcher: Watcher, { outputs = false } = {}): () => void {
    const job = this.#jobs.get(id);
    if (!job) {
      // Ended already (a tiny job often has by the time its client watches): the result rides along when small.
      const ev = eventFromSummary(this.summary(id));
      if (ev.state === 'COMPLETED' && ev.tasksTotal <= INLINE_RESULT_MAX_TASKS) ev.result = smallResult(this.result(id));
      const { indices, values } = outputs ? this.#outputsByIndex.get(Number(id)) : { indices: [], values: [] };
      for (const e of withOutputs(ev, indices.map((index, i) => ({ index, value: values[i]! })))) watcher(e);
      return () => {};
    }
    if (outputs) {
      for (const e of withOutputs(job.event(), this.#outputsSoFar(job))) watcher(e);
      let tap = this.#taps.get(job);
      if (!tap) this.#taps.set(job, (tap = { watchers: new Set(), since: [] }));
      tap.watchers.add(watcher);
    } else watcher(job.event());
    job.watchers.add(watcher);
    return () => {
      job.watchers.delete(watcher);
      this.#taps.get(job)?.watchers.delete(watcher);
    };
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
          const s = this.#outputsByIndex.get(Number(job.id));
          stored = new Map(s.indices.map((i, k) => [i, s.values[k]!]));
        }
        value = stored.get(index);
      }
      // A fold job on the embedded cluster stores no map outputs: one folded before this watch began is gone.
      if (value) out.push({ index, value });
    }
    return out;
  }

  close(): void {
    this.#closed = true;
    clearInterval(this.#stillRunning);
    for (const link of this.#links.values()) link.close();
    this.#links.clear();
    this.store.flush();
  }

  // ------------------------------------------------------------ the loop

  #kick(): void {
    if (this.#tickScheduled || this.#closed) return;
    this.#tickScheduled = true;
    setImmediate(() => {
      this.#tickScheduled = false;
      this.#tick();
    });
  }

  #tick(): void {
    const nodes: NodeSnapshot[] = [];
    const usage = new Map<string, number>();
    for (const l of this.#links.values()) {
      if (!l.info) continue;
      nodes.push({
        id: l.address,
        health: !l.up ? 'down' : this.#drained.has(l.id) ? 'draining' : 'up',
        cores: l.info.cores,
        freeSlots: l.window - l.coresInFlight,
        freeMemoryMb: l.info.memoryMb - l.memoryInFlight,
        memoryMb: l.info.memoryMb,
        labels: l.info.labels,
      });
    }
    const jobs: JobSnapshot[] = [];
    for (const j of this.#jobs.values()) {
      usage.set(j.user, (usage.get(j.user) ?? 0) + j.running.size * j.coresPerTask);
      if (j.runnable > 0) {
        jobs.push({
          id: j.id,
          user: j.user,
          priority: j.request.priority,
          seq: Number(j.id),
          runnable: j.runnable,
          running: j.running.size,
          batchSize: j.batchSize,
          coresPerTask: j.coresPerTask,
          memoryMb: j.request.memoryMb,
          constraint: j.request.constraint || undefined,
          maxRunning: j.request.maxRunning || undefined,
        });
      }
    }
    const plan = jobs.length && nodes.length ? schedule({ nodes, jobs, usage }) : [];
    for (const a of plan) this.#dispatch(this.#links.get(a.nodeId)!, this.#jobs.get(a.jobId)!, a.tasks);
    this.#updateReasons(jobs, nodes, new Set(plan.map((a) => a.jobId)));
  }

  /** Slurm's reasons for a job that got nothing this round. */
  #updateReasons(waiting: JobSnapshot[], nodes: NodeSnapshot[], placed: Set<string>): void {
    const anyUp = nodes.some((n) => n.health === 'up');
    // Once per tick, not per waiting job: the highest priority holding cores now (a PENDING job holds none).
    let runningPriority = -Infinity;
    for (const j of this.#jobs.values()) if (j.running.size > 0) runningPriority = Math.max(runningPriority, j.request.priority);
    for (const s of waiting) {
      const job = this.#jobs.get(s.id);
      // Gone: it ended during this round's dispatch (a fold too big for a message).
      if (!job || job.state !== 'PENDING' || placed.has(s.id)) continue;
      this.#setReason(job, !anyUp ? 'NoNodes' : runningPriority > job.request.priority ? 'Priority' : 'Resources');
    }
  }

  #setReason(job: JobRecord, reason: string): void {
    if (job.reason === reason) return;
    job.reason = reason;
    this.store.reason(Number(job.id), reason);
    this.#notify(job);
  }

  #dispatch(link: AgentLink, job: JobRecord, count: number): void {
    const tasks: TaskInput[] = [];
    const fold = job.fold;
    if (fold?.ready.length) {
      // Folding first: it unblocks the end of the job.
      const group = fold.ready[0]!;
      const [from, to] = fold.members(group);
      const values = job.outputs.slice(from, to) as Buffer[];
      if (!foldFits(job, values, `folding map outputs ${from}–${to - 1}`)) return this.#finish(job, 'FAILED');
      fold.ready.shift();
      const index = FoldPlan.combineIndex(group);
      job.running.set(index, { node: link.id, since: Date.now() });
      tasks.push({ index, attempt: 1, kind: 'COMBINE', input: Buffer.alloc(0), values });
    } else if (fold?.final === 'pending') {
      const values = (fold.grouped ? fold.partials : job.outputs) as Buffer[];
      if (!foldFits(job, values, 'the reduce step')) return this.#finish(job, 'FAILED');
      fold.final = 'running';
      job.running.set(REDUCE_INDEX, { node: link.id, since: Date.now() });
      tasks.push({ index: REDUCE_INDEX, attempt: 1, kind: 'REDUCE', input: Buffer.alloc(0), values });
    } else {
      const now = Date.now();
      // A batch goes out only as large as one message may be.
      for (const index of job.pending.take(count, (i) => job.inputs.get(i).length, MAX_VALUE_BYTES)) {
        const attempt = ++job.attempts[index]!;
        job.running.set(index, { node: link.id, since: now });
        job.taskTable.started(index, link.id, attempt, now);
        if (attempt > 1) this.store.attempt(Number(job.id), index, attempt);
        tasks.push({ index, attempt, kind: 'MAP', input: job.inputs.get(index), values: [] });
      }
    }
    job.attemptsTotal += tasks.length;
    if (job.state === 'PENDING') {
      job.state = 'RUNNING';
      job.reason = '';
      job.startedAt = Date.now();
      this.store.started(Number(job.id), job.startedAt);
    }
    if (!job.nodes.has(link.id)) {
      job.nodes.add(link.id);
      job.cores += link.info?.cores ?? 0;
    }
    link.send({ job: job.spec, tasks }, job.coresPerTask, job.request.memoryMb);
    if (this.events.listenerCount('dispatched')) this.events.emit('dispatched', link.id, job.id, tasks.length, tasks.reduce((n, t) => n + t.input.length, 0));
    this.#notify(job);
  }

  #onResults(link: AgentLink, results: TaskResult[]): void {
    for (const r of results) {
      if (!link.settle(r.jobId, r.index, r.attempt)) continue;
      link.tasksDone++;
      this.events.emit('taskEnded', link.id, r);
      const job = this.#jobs.get(r.jobId);
      if (!job || job.final) continue;
      job.running.delete(r.index);
      job.recordRun(r.durationMs, r.heapMb);
      const logs = this.#keepLogs(job, r.index, link.id, r.logs);
      if (!r.ok) {
        this.#onFailure(job, link, r, logs);
        continue;
      }
      if (r.index === REDUCE_INDEX) {
        job.result = r.output;
        job.fold!.final = 'done';
        this.#finish(job, 'COMPLETED', logs);
        continue;
      }
      if (r.index < REDUCE_INDEX) {
        const group = FoldPlan.groupOf(r.index);
        job.fold!.combined(group, r.output);
        // The group's outputs are folded (and stored): keep only the fold in memory.
        const [from, to] = job.fold!.members(group);
        job.outputs.fill(undefined, from, to);
        this.#notify(job, logs);
        continue;
      }
      if (job.done[r.index]) continue;
      job.taskTable.ran(r.index, 'COMPLETED', r.durationMs, r.heapMb);
      job.outputDone(r.index, r.output);
      this.#taps.get(job)?.since.push({ index: r.index, value: r.output });
      this.store.taskDone(Number(job.id), r.index, r.attempt, r.output, job.doneCount, !job.fold);
      if (job.doneCount === job.total && !job.fold) this.#finish(job, 'COMPLETED', logs);
      this.#notify(job, logs);
    }
    this.#kick();
  }

  #keepLogs(job: JobRecord, task: number, node: string, lines: readonly string[]): LogLine[] {
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

  #onFailure(job: JobRecord, link: AgentLink, r: TaskResult, logs: LogLine[]): void {
    const e = r.error ?? { kind: 'THREW', message: 'the task failed without saying why', stack: '', inputPreview: '' };
    if (r.index >= 0) job.taskTable.ran(r.index, failedState(e.kind), r.durationMs, r.heapMb);
    // --retries re-runs a task that threw (not one past its limits: it would only fail again).
    if (e.kind === 'THREW' && r.index >= 0 && r.attempt <= job.request.retries) {
      job.retries++;
      this.events.emit('retried', job.id);
      job.pending.push(r.index);
      job.taskTable.set(r.index, 'PENDING');
      this.#notify(job, logs);
      return;
    }
    const what = r.index < 0 ? 'the reduce step' : `task ${r.index}`;
    const detail = e.kind === 'THREW' && e.stack ? e.stack : e.message;
    const input = e.inputPreview ? `\n  input: ${e.inputPreview}` : '';
    job.error = `${what} failed on ${link.id} (attempt ${r.attempt})${input}\n  ${detail.replaceAll('\n', '\n  ')}`;
    this.#finish(job, e.kind === 'TIMEOUT' ? 'TIMEOUT' : 'FAILED', logs);
  }

  #requeue(link: AgentLink, reason: string): void {
    const lost = link.inFlight();
    this.events.emit('nodeLost', link.id, lost.length);
    this.log(`agent ${link.id} at ${link.address} down (${reason})${lost.length ? `: running ${lost.length} of its tasks again elsewhere` : ''}`);
    for (const t of lost) {
      const job = this.#jobs.get(t.jobId);
      if (!job || job.final) continue;
      job.running.delete(t.index);
      if (t.index === REDUCE_INDEX) {
        job.fold!.final = 'pending';
        continue;
      }
      if (t.index < REDUCE_INDEX) {
        job.fold!.ready.push(FoldPlan.groupOf(t.index));
        continue;
      }
      job.taskTable.set(t.index, 'PENDING');
      if (job.attempts[t.index]! >= MAX_ATTEMPTS_ON_NODE_LOSS) {
        job.taskTable.set(t.index, 'NODE_FAIL');
        job.error = `task ${t.index} was lost with its node ${MAX_ATTEMPTS_ON_NODE_LOSS} times (last: ${link.id}, ${reason}); giving up`;
        this.#finish(job, 'NODE_FAIL');
        continue;
      }
      job.retries++;
      this.events.emit('retried', job.id);
      job.pending.push(t.index);
      // Said to the job's watchers at once: until a node takes the task again, nothing else would tell them why it stalls.
      const line = `its node ${link.id} is gone (${reason}); the task waits for a node to run it again (attempt ${job.attempts[t.index]! + 1} of ${MAX_ATTEMPTS_ON_NODE_LOSS})`;
      this.#notify(job, [{ task: t.index, node: 'coordinator', line }]);
    }
    this.#kick();
  }

  /** A job that waits for another: held (Dependency), released, or cancelled when the other did not complete. */
  #updateDependency(job: JobRecord): void {
    const on = job.dependsOn;
    if (!on || job.final) return;
    const other = this.#jobs.get(on)?.summary() ?? summaryFromRowSafe(this.store, on);
    if (!other || other.state === 'COMPLETED') {
      if (job.reason === 'Dependency') this.#setReason(job, '');
      return;
    }
    if (other.state === 'PENDING' || other.state === 'RUNNING') return this.#setReason(job, 'Dependency');
    job.reason = 'DependencyNeverSatisfied';
    job.error = `DEPENDENCY_NEVER_SATISFIED: job ${on} ended ${other.state}, so afterok:${on} can never hold`;
    this.#finish(job, 'CANCELLED');
  }

  #finish(job: JobRecord, state: FinalJobState, logs: LogLine[] = []): void {
    // Outputs are committed once per turn: the last ones may have just met a full disk.
    const lostToDisk = this.store.lost(Number(job.id));
    if (lostToDisk) {
      state = 'FAILED';
      job.error = this.#notStoredError();
    }
    job.state = state;
    job.endedAt = Date.now();
    if (!job.startedAt) job.startedAt = job.endedAt;
    for (const l of this.#links.values()) l.cancelJob(job.id);
    job.pending.clear();
    job.running.clear();
    job.taskTable.ended();
    this.#taskRuns.save(Number(job.id), job.taskTable.columns());
    this.store.endJob(Number(job.id), {
      state,
      reason: job.reason,
      error: job.error,
      tasksDone: job.doneCount,
      attempts: job.attemptsTotal,
      cpuMs: job.cpuMs,
      maxHeapMb: job.maxHeapMb,
      nodes: [...job.nodes],
      cores: job.cores,
      startedAt: job.startedAt,
      endedAt: job.endedAt,
      result: job.result,
      // Kept for the result, `result --partial` and `requeue`; not a completed fold's map outputs (steps to its
      // result), nor those of a job the full disk stopped (the space is needed back).
    }, !lostToDisk && !(job.fold && state === 'COMPLETED'));
    this.events.emit('jobEnded', job.id, state);
    this.log(`job ${job.id} ${state.toLowerCase()} in ${formatDuration(job.wallMs())}${job.error ? `: ${job.error.split('\n')[0]}` : ''}`);
    this.#notify(job, logs);
    job.watchers.clear();
    this.#taps.delete(job);
    this.#jobs.delete(job.id);
    this.#logCount.delete(job);
    for (const other of this.#jobs.values()) if (other.dependsOn === job.id) this.#updateDependency(other);
    this.#kick();
  }

  /** A completed map job's outputs, from the state database, when few enough to ride on its last event. */
  #smallMapResult(job: JobRecord): { reduced: boolean; values: Buffer[] } | null {
    if (job.total > INLINE_RESULT_MAX_TASKS) return null;
    this.store.flush();
    return smallResult({ reduced: false, values: this.store.outputs(Number(job.id)) });
  }

  /** Sends the job's state to its watchers, coalescing to one event per interval except the last. */
  readonly #pendingLogs = new Map<JobRecord, LogLine[]>();
  readonly #notifyTimers = new Map<JobRecord, NodeJS.Timeout>();

  #notify(job: JobRecord, logs: LogLine[] = []): void {
    if (job.watchers.size === 0) return;
    let queued = this.#pendingLogs.get(job);
    if (!queued) this.#pendingLogs.set(job, (queued = []));
    if (logs.length) queued.push(...logs);
    const emit = () => {
      this.#notifyTimers.delete(job);
      const ev: JobEvent = job.event(this.#pendingLogs.get(job) ?? []);
      if (job.state === 'COMPLETED') ev.result = job.result ? smallResult({ reduced: true, values: [job.result] }) : this.#smallMapResult(job);
      this.#pendingLogs.delete(job);
      const tap = this.#taps.get(job);
      const outputs = tap?.since.splice(0) ?? [];
      for (const w of job.watchers) {
        if (tap?.watchers.has(w)) for (const e of withOutputs(ev, outputs)) w(e);
        else w(ev);
      }
    };
    if (job.final) {
      clearTimeout(this.#notifyTimers.get(job));
      emit();
    } else if (!this.#notifyTimers.has(job)) {
      this.#notifyTimers.set(job, setTimeout(emit, EVENT_INTERVAL_MS));
    }
  }
}

/**
 * A fold task carries the values it folds in one message. Past the limit it
 * would break the agent's stream like an oversized batch; the job fails
 * instead, saying why (false, with job.error set).
 */
function foldFits(job: JobRecord, values: Buffer[], what: string): boolean {
  const bytes = values.reduce((n, v) => n + v.length, 0);
  if (bytes <= MAX_VALUE_BYTES) return true;
  const mib = (n: number) => `${(n / 1048576).toFixed(1)} MiB`;
  job.error = `${what} needs ${mib(bytes)} of values in one message, over the ${mib(MAX_VALUE_BYTES)} a message may carry: return smaller map outputs, or leave out reduce and fold the array of outputs yourself`;
  return false;
}

/** Results up to this size ride on the COMPLETED event (the client then needs no GetResult). */
const INLINE_RESULT_BYTES = 64 * 1024;

/** Reading a big finished job's outputs only to find them too big to inline is not worth it. */
const INLINE_RESULT_MAX_TASKS = 4096;

function smallResult(result: { reduced: boolean; values: Buffer[] }): { reduced: boolean; values: Buffer[] } | null {
  let size = 0;
  for (const v of result.values) if ((size += v.length) > INLINE_RESULT_BYTES) return null;
  return result;
}

function summaryFromRowSafe(store: StateStore, id: string): JobSummary | undefined {
  const row = /^\d+$/.test(id) ? store.job(Number(id)) : undefined;
  return row ? summaryFromRow(row) : undefined;
}

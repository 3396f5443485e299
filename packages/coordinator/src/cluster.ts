/**
 * The coordinator's core, as a facade over its parts: the node registry
 * (./node-registry.ts), the live jobs and their state machine
 * (./jobs/job-record.ts), the pure round of the loop
 * (./scheduler/reconcile.ts) and the dispatcher that carries it out
 * (./dispatcher.ts), job events (./jobs/job-events.ts) and reads
 * (./job-queries.ts). Every change that must survive a restart goes to the
 * StateStore here; all gRPC handling is in ./service.ts.
 */
import type { JobReason } from './jobs/job-reason.js';
import type { Security } from '@picompute/sdk/auth';
import { formatDuration } from '@picompute/sdk/units';
import type { FinalJobState, JobSummary, LogLine, NodeStatus, SubmitRequest, TaskResult, TaskStatus, UserShare } from '@picompute/sdk/wire';
import { adoptHeld, RecoveryGrace } from './adopt-held.js';
import type { AgentLink, WorkDialer } from './agent-link.js';
import type { BlobStore } from './blob-store.js';
import { ClusterEvents } from './cluster-events.js';
import { CHUNK_BLOB_PREFIX } from '@picompute/sdk/chunk-ref';
import { ChunkGate } from './chunk-gate.js';
import { sendChunk } from './chunk-send.js';
import { carryOut, lostTasks } from './dispatcher.js';
import type { DispatchTarget } from './dispatcher.js';
import { JobQueries } from './job-queries.js';
import { JobEvents } from './jobs/job-events.js';
import type { Watcher } from './jobs/job-events.js';
import { JobRecord } from './jobs/job-record.js';
import { endOf } from './jobs/job-views.js';
import { keyedDefaults } from './jobs/keyed-submit.js';
import { BACKUP_AFTER_MS } from './jobs/backup-plan.js';
import { noNodeLeft } from './jobs/full-disk.js';
import type { Next } from './jobs/next.js';
import { fromWire, toWire } from './jobs/task-id.js';
import { NodeRegistry } from './node-registry.js';
import { RUNS_GRACE_MS, RunChecks } from './run-checks.js';
import { fitsSomeNode, Parking, reconcile, waitReason } from './scheduler/index.js';
import { OutputsByIndex } from './state/outputs-by-index.js';
import { RequeueStore } from './state/requeue.js';
import type { PartLocation } from './jobs/shuffle-plan.js';
import { SharedBlobs } from './state/shared-blobs.js';
import type { StateStore } from './state/store.js';
import { TaskRuns } from './state/task-runs.js';
import { DependencyWaiters } from './jobs/dependency-waiters.js';
import { admit, DEFAULT_TIME_LIMIT_MS, storeInputs, UserError } from './submit-checks.js';
import type { TimeLimits } from './submit-checks.js';

export { DEFAULT_TIME_LIMIT_MS, UserError };
export type { TimeLimits };

/** How long one slice of a restart's recovery may hold the event loop. */
const RECOVER_SLICE_MS = 20;

export class Cluster {
  readonly #jobs = new Map<string, JobRecord>();
  readonly #waiters = new DependencyWaiters<JobRecord>();
  /** The live jobs a round looks at, and the queued ones no node fits, set aside (./scheduler/parking.ts). */
  readonly #parking = new Parking<JobRecord>();
  /** What the parked jobs' reasons were last worked out from. */
  #parkedFrom = { anyUp: false, runningPriority: Number.NaN };
  readonly #nodes: NodeRegistry;
  readonly #events: JobEvents;
  readonly #queries: JobQueries;
  readonly #dispatch: DispatchTarget;
  /** For watchers (metrics, dashboard, traces); see ./cluster-events.ts. */
  readonly events = new ClusterEvents();
  #tickScheduled = false;
  readonly #backupTimer: NodeJS.Timeout;
  #closed = false;
  readonly #taskRuns: TaskRuns;
  readonly #sharedBlobs: SharedBlobs;
  readonly #runChecks: RunChecks;
  /** File-input jobs' maps held until their chunks arrive (./chunk-gate.ts). */
  readonly #gate: ChunkGate;
  #grace = new RecoveryGrace([], () => {});

  constructor(
    private readonly store: StateStore,
    private readonly blobs: BlobStore,
    private readonly log: (line: string) => void,
    security: Security,
    deadAfterMs?: number,
    private readonly timeLimits: TimeLimits = { defaultMs: DEFAULT_TIME_LIMIT_MS, maxMs: 0 },
    /** How long a task runs before a backup may start (see ./jobs/backup-plan.ts). */
    private readonly backupAfterMs = BACKUP_AFTER_MS,
    /** After a restart, how long recovered keyed jobs wait for the nodes holding their runs (see ./run-checks.ts). */
    runsGraceMs = RUNS_GRACE_MS,
  ) {
    this.#runChecks = new RunChecks(
      () => this.#jobs.values(),
      // #apply keeps the lines with the job's log: why its maps did or did not run again is asked long after the restart.
      (job, next) => this.#apply(job, next),
      () => this.#kick(),
      log,
      runsGraceMs,
    );
    this.#nodes = new NodeRegistry(
      store.drained(),
      {
        changed: () => this.#kick(),
        up: (l) => this.#runChecks.nodeUp(l),
        lost: (l, reason) => this.#onLost(l, reason),
        results: (l, results) => this.#onResults(l, results),
        needBundle: (l, hash) => {
          if (hash.startsWith(CHUNK_BLOB_PREFIX)) return void sendChunk(l, hash, this.blobs.chunks, this.log);
          const bytes = this.blobs.get(hash) ?? this.store.bundle(hash);
          if (bytes) l.sendBundle(hash, bytes);
          else this.log(`agent ${l.id} asked for bundle ${hash.slice(0, 12)}, which this coordinator does not have`);
        },
        held: (l, tasks) =>
          adoptHeld(l, tasks, {
            job: (id) => this.#jobs.get(id),
            changed: (job, began) => {
              if (began) this.store.started(Number(job.id), job.startedAt);
              this.#events.notify(job);
              this.#kick();
            },
            log,
          }),
      },
      log,
      security,
      deadAfterMs,
    );
    this.#taskRuns = new TaskRuns(store.db);
    const outputsByIndex = new OutputsByIndex(store.db, store.memoryOutputs);
    this.#events = new JobEvents(store, outputsByIndex, () => this.#jobs.values());
    this.#queries = new JobQueries(store, this.#jobs, this.#nodes, this.#taskRuns, outputsByIndex, new RequeueStore(store.db));
    this.#dispatch = {
      store,
      nodes: this.#nodes,
      job: (id) => this.#jobs.get(id),
      apply: (job, next) => this.#apply(job, next),
      changed: (job) => this.#events.notify(job),
      sent: (nodeId, job, tasks) => {
        if (this.events.listenerCount('dispatched'))
          this.events.emit(
            'dispatched',
            nodeId,
            job.id,
            tasks.length,
            tasks.reduce((n, t) => n + t.input.length, 0),
          );
      },
    };
    this.#sharedBlobs = new SharedBlobs(store.db);
    this.#gate = new ChunkGate(
      blobs.chunks,
      () => this.#kick(),
      (job, message) => {
        job.error = message;
        this.#finish(job, 'FAILED');
      },
    );
    // Whether a straggler deserves a backup changes with time alone: look again every second while jobs run.
    this.#backupTimer = setInterval(() => {
      for (const j of this.#jobs.values()) if (j.state === 'RUNNING' && !j.request.noBackups) return this.#kick();
    }, 1000);
    this.#backupTimer.unref();
    store.onNotStored = (ids) => this.#failNotStored(ids);
  }

  /**
   * Takes back the unfinished jobs in the state database, job by job in
   * slices of RECOVER_SLICE_MS with the event loop free between them (a
   * leader over PostgreSQL renews its lease meanwhile). Called once, before
   * the coordinator serves or dials anyone.
   */
  async recover(): Promise<void> {
    const started = performance.now();
    let slice = started;
    for (const { job, tasks } of this.store.activeJobsOneByOne()) {
      const record = JobRecord.recover(job, tasks);
      record.backupAfterMs = this.backupAfterMs;
      this.#track(record);
      if (performance.now() - slice > RECOVER_SLICE_MS) {
        await new Promise((resolve) => setImmediate(resolve));
        slice = performance.now();
      }
    }
    // Once all are back: a job may wait for one recovered after it.
    for (const record of [...this.#jobs.values()]) this.#updateDependency(record);
    if (this.#jobs.size) this.log(`recovered ${this.#jobs.size} unfinished job(s) from the state database in ${Math.round(performance.now() - started)} ms`);
    this.#grace = new RecoveryGrace(this.#jobs.values(), () => this.#kick());
    this.#runChecks.start();
  }

  /** Jobs whose task outputs the full disk could not take: failed, so the rest carry on and a restart does not meet them again. */
  #failNotStored(ids: Set<number>): void {
    for (const id of ids) {
      const job = this.#jobs.get(String(id));
      if (!job || job.final) continue;
      this.#finish(job, 'FAILED');
    }
  }

  // ------------------------------------------------------------ nodes (./node-registry.ts)

  /** Dials an agent; `dialWork` replaces gRPC for an agent in this very process (the embedded cluster). */
  addAgent(address: string, dialWork?: WorkDialer): void {
    this.#nodes.add(address, dialWork);
  }

  /** Forgets an agent (its mDNS goodbye was heard); its running tasks run again elsewhere. */
  removeAgent(address: string, reason = 'removed'): void {
    this.#nodes.remove(address, reason);
  }

  nodes(): NodeStatus[] {
    return this.#nodes.nodes();
  }

  /** Stops (or allows again) placing tasks on a node; remembered across restarts. */
  drain(node: string, drain: boolean): NodeStatus {
    const link = this.#nodes.drain(node, drain);
    this.store.setDrained(link.id, drain);
    this.#kick();
    return this.#nodes.status(link);
  }

  /** The input chunk store (./chunk-store.ts) and the maps waiting for a chunk, for metrics. */
  inputChunks(): { chunks: number; bytes: number; receivedBytes: number; heldTasks: number } {
    const c = this.blobs.chunks;
    return { chunks: c?.count ?? 0, bytes: c?.bytes ?? 0, receivedBytes: c?.receivedBytes ?? 0, heldTasks: this.#gate.held };
  }

  // ------------------------------------------------------------ jobs

  /** Resolves when every job submitted so far is on disk (see StateStore.synced). */
  synced(): Promise<void> {
    return this.store.synced();
  }

  submit(request: SubmitRequest): JobRecord {
    const nodes = this.#nodes.shapes();
    const admitted = admit(request, {
      store: this.store,
      blobs: this.blobs,
      shared: this.#sharedBlobs,
      jobExists: (id) => this.#jobs.has(id) || !!this.store.job(Number(id)),
      nodes,
      timeLimits: this.timeLimits,
    });
    const { inputs, bundle } = admitted;
    request = keyedDefaults(admitted.request, nodes);
    const submittedAt = Date.now();
    const id = String(this.store.insertJob(request, inputs.count, bundle, submittedAt));
    this.blobs.delete(request.bundleHash);
    const job = new JobRecord(id, request, inputs, submittedAt);
    job.backupAfterMs = this.backupAfterMs;
    this.#track(job);
    job.stored = storeInputs(
      job,
      this.store,
      () => this.#closed,
      (err) => {
        job.error = err.message;
        this.#finish(job, 'FAILED');
      },
    );
    // Seen by the service (which answers the client), not lost here.
    job.stored.catch(() => {});
    this.log(`job ${id} (${request.name}) submitted by ${request.user || 'unknown'}: ${inputs.count} tasks`);
    this.#updateDependency(job);
    if (!job.final && inputs.count === 0 && !request.hasReduce && !request.keyed) this.#finish(job, 'COMPLETED');
    this.#kick();
    return job;
  }

  /** A live job, or a finished one read from the state database. */
  summary(id: string): JobSummary {
    return this.#queries.summary(id);
  }

  jobs(filter: { active?: boolean; finished?: boolean } = {}): JobSummary[] {
    return this.#queries.jobs(filter);
  }

  shares(): UserShare[] {
    return this.#queries.shares();
  }

  result(id: string): { reduced: boolean; keyed: boolean; values: Buffer[] } {
    return this.#queries.result(id);
  }

  /**
   * A keyed job that still runs: how many partitions it has and where
   * `partition`'s part is once reduced (GetPart streams a part as soon as it
   * is). Undefined when the job does not run (ended, unknown) or is not keyed.
   */
  livePart(id: string, partition: number): { partitions: number; part: PartLocation | undefined } | undefined {
    const job = this.#jobs.get(id);
    if (!job?.shuffle || job.final) return undefined;
    return { partitions: job.shuffle.partitions, part: job.shuffle.part(partition) };
  }

  resultPages(id: string): { reduced: boolean; keyed: boolean; page(limit: number): Buffer[] } {
    return this.#queries.resultPages(id);
  }

  tasks(id: string): TaskStatus[] {
    return this.#queries.tasks(id);
  }

  partialResult(id: string): { indices: number[]; values: Buffer[] } {
    return this.#queries.partialResult(id);
  }

  logs(id: string): LogLine[] {
    return this.#queries.logs(id);
  }

  /**
   * `picompute requeue ID --failed` (GNU parallel's --resume-failed): runs
   * again only the tasks of an ended job that did not succeed, reusing the
   * stored outputs of those that did, under the same id (as Slurm's
   * `scontrol requeue`); the job then ends with its whole result.
   */
  requeueFailed(id: string): JobSummary {
    const job = this.#queries.reopen(id);
    this.#track(job);
    this.log(`job ${id} requeued: ${job.pending.length} of ${job.total} tasks run again, ${job.doneCount} kept`);
    this.#updateDependency(job);
    if (!job.final && job.doneCount === job.total && !job.fold) this.#finish(job, 'COMPLETED');
    this.#kick();
    return job.summary();
  }

  cancel(id: string): JobSummary {
    const job = this.#jobs.get(id);
    if (!job) return this.summary(id);
    this.#apply(job, job.cancel());
    return job.summary();
  }

  /**
   * Calls `watcher` now with the job's state, then at most every 100 ms
   * while it changes, and once at the end. With `outputs`, the events also
   * carry each map output once (the ones finished so far on the first).
   */
  watch(id: string, watcher: Watcher, { outputs = false } = {}): () => void {
    const job = this.#jobs.get(id);
    if (!job) return this.#events.watchEnded(this.summary(id), () => this.result(id), watcher, outputs);
    return this.#events.watch(job, watcher, outputs);
  }

  close(): void {
    this.#closed = true;
    clearInterval(this.#backupTimer);
    this.#runChecks.close();
    this.#gate.close();
    this.#grace.close();
    this.#events.close();
    this.#nodes.close();
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
    const nodes = this.#nodes.snapshot();
    this.#parking.release((shape) => fitsSomeNode(nodes, shape));
    const jobs = Array.from(this.#parking.active(), (j) => this.#grace.hold(j.snapshot()));
    // The scheduler knows nodes by address; a job keeps off nodes by agent id (./jobs/full-disk.ts).
    for (const j of jobs) if (j.avoid) j.avoid = new Set([...this.#nodes.links()].filter((l) => j.avoid!.has(l.id)).map((l) => l.address));
    const round = reconcile(jobs, nodes);
    carryOut(round.plan, this.#dispatch);
    for (const [id, reason] of round.reasons) {
      const job = this.#jobs.get(id);
      // Gone or started: it ended during this round's dispatch (a fold too big for a message).
      if (job?.state === 'PENDING') this.#setReason(job, reason);
    }
    // A keyed job's backups come due with time alone: it stays in every round.
    for (const s of round.unplaceable) {
      const job = this.#jobs.get(s.id);
      if (job?.state === 'PENDING' && s.running === 0 && !job.shuffle) this.#parking.park(job, s);
    }
    // A parked job's reason changes only when nodes come or go, or when the running priority moves across its own.
    const from = this.#parkedFrom;
    const [low, high] = [Math.min(from.runningPriority, round.runningPriority), Math.max(from.runningPriority, round.runningPriority)];
    if (
      this.#parking.parkedCount &&
      (from.anyUp !== round.anyUp || Number.isNaN(from.runningPriority) || (low !== high && this.#parking.anyPriorityIn(low, high)))
    ) {
      for (const [job, s] of this.#parking.parked()) this.#setReason(job, waitReason(round.anyUp, round.runningPriority, s));
    }
    this.#parkedFrom = { anyUp: round.anyUp, runningPriority: round.runningPriority };
  }

  #setReason(job: JobRecord, reason: JobReason): void {
    if (job.reason === reason) return;
    job.reason = reason;
    this.store.reason(Number(job.id), reason);
    this.#events.notify(job);
  }

  #onResults(link: AgentLink, results: TaskResult[]): void {
    for (const r of results) {
      if (!link.settle(r.jobId, r.index, r.attempt)) continue;
      link.tasksDone++;
      this.events.emit('taskEnded', link.id, r);
      const job = this.#jobs.get(r.jobId);
      if (!job) continue;
      const id = fromWire(r.index);
      const retries = job.retries;
      const next = r.ok
        ? job.taskDone(link.id, id, r.attempt, r.output, r.durationMs, r.heapMb)
        : job.taskFailed(link.id, id, r.attempt, r.error, r.durationMs, r.heapMb);
      this.#retried(job, retries);
      // Before the result is applied: a winner that ends the job would otherwise clear its losers, and their
      // nodes would hear only the job's end, not that the copy lost (which frees the core at once, and says so).
      this.#stopLosers(job);
      this.#apply(job, next, this.#events.keepLogs(job, toWire(id), link.id, next.kind === 'ignored' ? [] : r.logs));
      if (job.avoid.size && !job.final) this.#failIfNowhereToGo(job);
    }
    this.#kick();
  }

  /** A task's copy lost the race to its twin: its node stops it and frees the core (see ./jobs/backup-plan.ts). */
  #stopLosers(job: JobRecord): void {
    for (const run of job.losers.splice(0)) this.#nodes.cancelTasks(run.node, job.id, [{ index: toWire(run.id), attempt: run.attempt }]);
  }

  /** Every live node that could take the job's tasks had no room on its disk for their files (./jobs/full-disk.ts): nowhere left to go. */
  #failIfNowhereToGo(job: JobRecord): void {
    for (const l of this.#nodes.links()) if (l.up && !job.avoid.has(l.id)) return;
    job.error = noNodeLeft(job, [...job.avoid]);
    this.#finish(job, 'FAILED');
  }

  #onLost(link: AgentLink, reason: string): void {
    const lost = lostTasks(link);
    this.events.emit('nodeLost', link.id, lost.count);
    this.log(`agent ${link.id} at ${link.address} down (${reason})${lost.count ? `: running ${lost.count} of its tasks again elsewhere` : ''}`);
    // A keyed job loses the map outputs on the node even with no task running there.
    for (const job of this.#jobs.values()) if (job.shuffle && !lost.byJob.has(job.id)) lost.byJob.set(job.id, []);
    for (const [jobId, tasks] of lost.byJob) {
      const job = this.#jobs.get(jobId);
      if (!job) continue;
      const retries = job.retries;
      const next = job.nodeLost(link.id, tasks, reason);
      this.#retried(job, retries);
      this.#apply(job, next);
    }
    this.#kick();
  }

  /** One `retried` event per task a transition put back in the queue (a lost node, or --retries after a throw). */
  #retried(job: JobRecord, before: number): void {
    for (let n = before; n < job.retries; n++) this.events.emit('retried', job.id);
  }

  /** Does what a job's transition asks: store a map output, tell the watchers, set a reason, or end the job. */
  #apply(job: JobRecord, next: Next, logs: LogLine[] = []): void {
    if (next.kind === 'ignored') return;
    this.#parking.touch(job);
    if (next.kind === 'reason') {
      this.#setReason(job, next.reason);
      return;
    }
    if (next.output) {
      const o = next.output;
      // A keyed job's map output says where its runs are, for the coordinator: it is not a value to stream to watchers.
      if (!job.shuffle) this.#events.output(job, { index: o.index, value: o.value });
      this.store.taskDone(Number(job.id), o.index, o.attempt, o.value, job.doneCount, !job.fold, o.node);
    }
    if (next.kind === 'finish') this.#finish(job, next.state, logs);
    else {
      // The coordinator's own lines (a task moved off a full disk, a copy that failed beside its twin) are kept for `picompute logs` too.
      const said = next.logs.length ? next.logs.flatMap((l) => this.#events.keepLogs(job, l.task, l.node, [l.line])) : [];
      this.#events.notify(job, said.length ? [...logs, ...said] : logs);
    }
  }

  /** A job that waits for another: held (Dependency), released, or cancelled when the other did not complete. */
  #updateDependency(job: JobRecord): void {
    const on = job.dependsOn;
    if (!on || job.final) return;
    this.#apply(job, job.dependencyEnded(this.#queries.find(on)?.state));
  }

  /** A job becomes live: scheduled, its chunks awaited, its dependency watched. */
  #track(job: JobRecord): void {
    this.#jobs.set(job.id, job);
    this.#gate.attach(job);
    this.#parking.add(job);
    this.#waiters.add(job);
  }

  #finish(job: JobRecord, state: FinalJobState, logs: LogLine[] = []): void {
    // Outputs are committed once per turn: the last ones may have just met a full disk.
    const lostToDisk = this.store.lost(Number(job.id));
    if (lostToDisk) {
      state = 'FAILED';
      job.error =
        `${this.store.disk.message.split(':')[0]}: this job's task outputs could not be stored, so it was stopped; free space there (or ` +
        `restart the coordinator with a \`stateDir\` on a bigger disk) and submit it again`;
    }
    if (job.backupsRan) {
      // Said in the job's log (`picompute logs`) too; the counts are kept with its row.
      const line = `backups of stragglers: ${job.backupsRan} started, ${job.backupsWon} finished first`;
      logs = [...logs, ...this.#events.keepLogs(job, -1, 'coordinator', [line])];
    }
    job.finish(state, Date.now());
    this.#gate.detach(job);
    // Every node may hold runs of a keyed job, not only those with its tasks in flight.
    this.#nodes.cancelJob(job.id, !!job.shuffle);
    const runs = job.taskTable.columns();
    this.store.alongside(Number(job.id), () => this.#taskRuns.save(Number(job.id), runs), job.total * 20);
    // Kept for the result, `result --partial` and `requeue`; not a completed fold's map outputs (steps to its
    // result), nor those of a job the full disk stopped (the space is needed back).
    this.store.endJob(Number(job.id), endOf(job), !lostToDisk && !((job.fold || job.shuffle) && state === 'COMPLETED'));
    this.events.emit('jobEnded', job.id, state);
    this.log(`job ${job.id} ${state.toLowerCase()} in ${formatDuration(job.wallMs())}${job.error ? `: ${job.error.split('\n')[0]}` : ''}`);
    this.#events.notify(job, logs);
    this.#events.ended(job);
    this.#jobs.delete(job.id);
    this.#parking.remove(job);
    this.#waiters.remove(job);
    for (const other of this.#waiters.of(job.id)) this.#updateDependency(other);
    this.#kick();
  }
}

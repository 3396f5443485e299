/**
 * The coordinator's core: the node registry (one AgentLink per agent), the
 * jobs, and the loop that asks the scheduler for a plan whenever something
 * changes and carries the plan out. All gRPC handling is in ./service.ts.
 */
import type { Security } from '@picompute/sdk/auth';
import { unpackFrames } from '@picompute/sdk/framing';
import type { JobEvent, LogLine, NodeStatus, SubmitRequest, TaskInput, TaskResult } from '@picompute/sdk/wire';
import { AgentLink } from './agent-link.js';
import type { BlobStore } from './blob-store.js';
import { JobRecord, REDUCE_INDEX } from './job-record.js';
import type { Watcher } from './job-record.js';
import { schedule } from './scheduler/index.js';
import type { NodeSnapshot } from './scheduler/index.js';

/** Attempts a task gets when the nodes running it are lost (not when it throws). */
const MAX_ATTEMPTS_ON_NODE_LOSS = 3;
const EVENT_INTERVAL_MS = 100;

export class UserError extends Error {
  override name = 'UserError';
}

export class Cluster {
  readonly #links = new Map<string, AgentLink>();
  readonly #jobs = new Map<string, JobRecord>();
  #seq = 0;
  #tickScheduled = false;
  #closed = false;

  constructor(
    private readonly blobs: BlobStore,
    private readonly log: (line: string) => void,
    private readonly security: Security,
    private readonly deadAfterMs?: number,
  ) {}

  // ------------------------------------------------------------ nodes

  /** Dials an agent (named by hand or registering itself); a second call for the same address is a no-op. */
  addAgent(address: string): void {
    if (this.#closed || this.#links.has(address)) return;
    const link = new AgentLink(
      address,
      {
        up: (l) => {
          const twin = [...this.#links.values()].find((o) => o !== l && o.up && o.id === l.id);
          if (twin) {
            // Found twice (named by hand and by mDNS, say): keep the first link.
            this.log(`agent ${l.id} is reachable at ${twin.address} and ${l.address}; using ${twin.address}`);
            this.removeAgent(l.address);
            return;
          }
          this.log(`agent ${l.id} up at ${l.address} (${l.info?.cores} cores)`);
          this.#kick();
        },
        down: (l, reason) => this.#onAgentDown(l, reason),
        results: (l, results) => this.#onResults(l, results),
        needBundle: (l, hash) => {
          const bytes = this.blobs.get(hash);
          if (bytes) l.sendBundle(hash, bytes);
          else this.log(`agent ${l.id} asked for bundle ${hash.slice(0, 12)}, which this coordinator does not have`);
        },
      },
      this.log,
      this.security,
      this.deadAfterMs,
    );
    this.#links.set(address, link);
  }

  /** Forgets an agent (its mDNS goodbye was heard); its running tasks run again elsewhere. */
  removeAgent(address: string, reason = 'removed'): void {
    const link = this.#links.get(address);
    if (!link) return;
    this.#links.delete(address);
    if (link.up) this.#requeue(link, reason);
    link.close();
  }

  nodes(): NodeStatus[] {
    return [...this.#links.values()].map((l) => ({
      info: l.info ?? { id: l.address, hostname: '', cores: 0, memoryMb: 0, arch: '', nodeVersion: '', version: '', labels: [] },
      address: l.address,
      state: !l.up ? 'down' : l.batchesInFlight === 0 ? 'idle' : l.batchesInFlight >= (l.info?.cores ?? 0) ? 'allocated' : 'mixed',
      coresBusy: l.up ? Math.min(l.info?.cores ?? 0, l.batchesInFlight) : 0,
      tasksInFlight: l.tasksInFlight,
      tasksDone: l.tasksDone,
      lastHeartbeat: l.heartbeat ?? null,
    }));
  }

  // ------------------------------------------------------------ jobs

  submit(request: SubmitRequest): JobRecord {
    const bundle = this.blobs.get(request.bundleHash);
    if (!bundle) throw new UserError(`job bundle ${request.bundleHash.slice(0, 12)} was not uploaded; upload it with PutBlob first`);
    const packed = this.blobs.get(request.inputsHash);
    if (!packed) throw new UserError(`job inputs ${request.inputsHash.slice(0, 12)} were not uploaded; upload them with PutBlob first`);
    let inputs: Buffer[];
    try {
      inputs = unpackFrames(packed);
    } catch (err) {
      throw new UserError(`job inputs cannot be read: ${(err as Error).message}`);
    }
    if (inputs.length !== request.taskCount) {
      throw new UserError(`job inputs hold ${inputs.length} tasks, but the request says ${request.taskCount}`);
    }
    const id = String(++this.#seq);
    const job = new JobRecord(id, this.#seq, request, inputs);
    this.#jobs.set(id, job);
    this.log(`job ${id} (${request.name}) submitted by ${request.user || 'unknown'}: ${inputs.length} tasks`);
    if (inputs.length === 0 && !request.hasReduce) this.#finish(job, 'COMPLETED');
    else if (inputs.length === 0) job.reduceState = 'pending';
    this.#kick();
    return job;
  }

  job(id: string): JobRecord {
    const job = this.#jobs.get(id);
    if (!job) throw new UserError(`no job with id ${id}`);
    return job;
  }

  jobs(): JobRecord[] {
    return [...this.#jobs.values()];
  }

  cancel(id: string): JobRecord {
    const job = this.job(id);
    if (!job.final) {
      job.error = 'cancelled by the user';
      this.#finish(job, 'CANCELLED');
    }
    return job;
  }

  /** Calls `watcher` now with the job's state, then at most every 100 ms while it changes, and once at the end. */
  watch(id: string, watcher: Watcher): () => void {
    const job = this.job(id);
    watcher(job.event());
    if (job.final) return () => {};
    job.watchers.add(watcher);
    return () => job.watchers.delete(watcher);
  }

  close(): void {
    this.#closed = true;
    for (const link of this.#links.values()) link.close();
    this.#links.clear();
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
    for (const l of this.#links.values()) {
      if (!l.info) continue;
      nodes.push({ id: l.address, health: l.up ? 'up' : 'down', cores: l.info.cores, freeSlots: l.window - l.batchesInFlight, labels: l.info.labels });
    }
    const live = this.jobs().filter((j) => j.runnable > 0);
    const reason = nodes.some((n) => n.health === 'up') ? 'Resources' : 'NoNodes';
    for (const j of live) {
      if (j.state === 'PENDING' && j.reason !== reason) {
        j.reason = reason;
        this.#notify(j);
      }
    }
    if (live.length === 0 || nodes.length === 0) return;
    const plan = schedule({ nodes, jobs: live.map((j) => ({ id: j.id, priority: 0, seq: j.seq, runnable: j.runnable, batchSize: j.batchSize })) });
    for (const a of plan) this.#dispatch(this.#links.get(a.nodeId)!, this.#jobs.get(a.jobId)!, a.tasks);
  }

  #dispatch(link: AgentLink, job: JobRecord, count: number): void {
    const tasks: TaskInput[] = [];
    if (job.reduceState === 'pending') {
      job.reduceState = 'running';
      job.running.set(REDUCE_INDEX, link.address);
      tasks.push({ index: REDUCE_INDEX, attempt: 1, kind: 'REDUCE', input: Buffer.alloc(0), values: job.outputs as Buffer[] });
    } else {
      for (const index of job.pending.splice(0, count)) {
        const attempt = ++job.attempts[index]!;
        job.running.set(index, link.address);
        tasks.push({ index, attempt, kind: 'MAP', input: job.inputs[index]!, values: [] });
      }
    }
    if (job.state === 'PENDING') {
      job.state = 'RUNNING';
      job.startedAt = Date.now();
    }
    if (!job.nodes.has(link.id)) {
      job.nodes.add(link.id);
      job.cores += link.info?.cores ?? 0;
    }
    link.send({ job: job.spec, tasks });
    this.#notify(job);
  }

  #onResults(link: AgentLink, results: TaskResult[]): void {
    for (const r of results) {
      if (!link.settle(r.jobId, r.index, r.attempt)) continue;
      const job = this.#jobs.get(r.jobId);
      if (!job || job.final) continue;
      job.running.delete(r.index);
      link.tasksDone++;
      if (!r.ok) {
        this.#fail(job, link, r);
        continue;
      }
      job.recordDuration(r.durationMs);
      const logs = r.logs.length ? job.addLogs(r.index, link.id, r.logs) : [];
      if (r.index === REDUCE_INDEX) {
        job.result = r.output;
        job.reduceState = 'done';
        this.#finish(job, 'COMPLETED', logs);
        continue;
      }
      job.outputs[r.index] = r.output;
      job.done++;
      if (job.done === job.total) {
        if (job.reduceState === 'waiting') job.reduceState = 'pending';
        else this.#finish(job, 'COMPLETED', logs);
      }
      this.#notify(job, logs);
    }
    this.#kick();
  }

  #fail(job: JobRecord, link: AgentLink, r: TaskResult): void {
    const e = r.error ?? { kind: 'THREW', message: 'the task failed without saying why', stack: '', inputPreview: '' };
    const what = r.index === REDUCE_INDEX ? 'the reduce step' : `task ${r.index}`;
    const detail = e.kind === 'THREW' && e.stack ? e.stack : e.message;
    const input = e.inputPreview ? `\n  input: ${e.inputPreview}` : '';
    job.error = `${what} failed on ${link.id} (attempt ${r.attempt})${input}\n  ${detail.replaceAll('\n', '\n  ')}`;
    this.#finish(job, 'FAILED', job.addLogs(r.index, link.id, r.logs));
  }

  #onAgentDown(link: AgentLink, reason: string): void {
    this.#requeue(link, reason);
  }

  #requeue(link: AgentLink, reason: string): void {
    const lost = link.inFlight();
    this.log(`agent ${link.id} at ${link.address} down (${reason})${lost.length ? `: running ${lost.length} of its tasks again elsewhere` : ''}`);
    for (const t of lost) {
      const job = this.#jobs.get(t.jobId);
      if (!job || job.final) continue;
      job.running.delete(t.index);
      if (t.index === REDUCE_INDEX) {
        job.reduceState = 'pending';
        continue;
      }
      if (job.attempts[t.index]! >= MAX_ATTEMPTS_ON_NODE_LOSS) {
        job.error = `task ${t.index} was lost with its node ${MAX_ATTEMPTS_ON_NODE_LOSS} times (last: ${link.id}, ${reason}); giving up`;
        this.#finish(job, 'FAILED');
        continue;
      }
      job.retries++;
      job.pending.push(t.index);
    }
    this.#kick();
  }

  #finish(job: JobRecord, state: 'COMPLETED' | 'FAILED' | 'CANCELLED', logs: LogLine[] = []): void {
    job.state = state;
    job.endedAt = Date.now();
    if (!job.startedAt) job.startedAt = job.endedAt;
    for (const l of this.#links.values()) l.cancelJob(job.id);
    job.pending = [];
    job.running.clear();
    // Inputs are no longer needed; outputs stay for a job without reduce (they are its result).
    job.inputs = [];
    if (job.reduceState === 'done') job.outputs.length = 0;
    this.log(`job ${job.id} ${state.toLowerCase()} in ${job.wallMs()} ms${job.error ? `: ${job.error.split('\n')[0]}` : ''}`);
    this.#notify(job, logs);
    job.watchers.clear();
    this.#kick();
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
      this.#pendingLogs.delete(job);
      for (const w of job.watchers) w(ev);
    };
    if (job.final) {
      clearTimeout(this.#notifyTimers.get(job));
      emit();
    } else if (!this.#notifyTimers.has(job)) {
      this.#notifyTimers.set(job, setTimeout(emit, EVENT_INTERVAL_MS));
    }
  }
}

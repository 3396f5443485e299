/**
 * One coordinator's Work stream, seen from the agent: it takes task batches,
 * fetches bundles it lacks over the same stream, runs the batches on the pool
 * and sends results back, coalescing those that finish in the same tick into
 * as few messages as stay under the message limit (see ./result-packing.ts).
 * Heartbeats go out every `heartbeatMs`. The runs themselves are the agent's
 * (./held-tasks.ts): they outlive a stream that closes, and a new stream
 * first hears which tasks the agent holds.
 */
import { statfsSync } from 'node:fs';
import { formatBytes } from '@picompute/sdk/units';
import { encodePackedResultsMessage, packResults as packWireResults, packableResult, unpackTasks } from '@picompute/sdk/wire';
import type { Assign, BlobChunk, FromAgent, JobResults, ServerWorkStream, TaskRef, TaskResult, ToAgent } from '@picompute/sdk/wire';
import type { AgentInfo } from '@picompute/sdk/wire';
import type { TaskOutcome } from './batch.js';
import type { BundleCache } from './bundle-cache.js';
import type { ChunkCache, ChunkFetch } from './chunk-cache.js';
import { fetchChunks } from './chunk-fetch.js';
import type { Held, Receiver, Run, TaskKeeper } from './held-tasks.js';
import { heartbeat } from './node-facts.js';
import type { TaskPools } from './pool.js';
import { MESSAGE_MARGIN_BYTES, packResults, resultBytes } from './result-packing.js';
import { runBatch } from './run-batch.js';
import type { SensorReadings } from './sensor-readings.js';
import { runKeyedReduces } from './shuffle/reduce-tasks.js';
import type { ShuffleRuns } from './shuffle/run-store.js';

export interface SessionDeps {
  /** The call is a gRPC stream, whose codec sends an already encoded message as it is (not the embedded cluster's). */
  grpc: boolean;
  info: AgentInfo;
  pools: TaskPools;
  bundles: BundleCache;
  heartbeatMs: number;
  /** Largest message the coordinator takes from us, bytes. */
  maxMessageBytes: number;
  /** The temperature and the firmware's throttle state, one reader per agent (./sensor-readings.ts). */
  sensors: SensorReadings;
  /** Speed per core from ./speed-probe.ts; 0 until measured. */
  speed?: () => number;
  log: (line: string) => void;
  /** Keyed jobs' runs on this agent; how much a keyed map buffers before it spills. */
  shuffle?: ShuffleRuns;
  spillBytes?: number;
  /** Input chunks of file-input maps (./chunk-cache.ts). */
  chunks?: ChunkCache;
  /** The agent's runs, across streams. */
  keeper: TaskKeeper;
}

interface IncomingBlob {
  parts: Buffer[];
  resolve: (bytes: Buffer) => void;
  reject: (err: Error) => void;
  /** A blob taken piece by piece (an input chunk, to a file) instead of gathered in `parts`. */
  piece?: (data: Buffer) => void;
}

/** ` (FOLDER: N free of M)`, what the disk under an agent's spill folder has left; '' where it cannot be read. */
function diskSpace(dir: string | undefined): string {
  if (!dir) return '';
  try {
    const s = statfsSync(dir);
    return ` (${dir}: ${formatBytes(s.bavail * s.bsize)} free of ${formatBytes(s.blocks * s.bsize)})`;
  } catch {
    return '';
  }
}

/** Results messages from this size on are announced before they are encoded (see `#flush`). */
const ANNOUNCE_BYTES = 4 * 1024 * 1024;

export class WorkSession implements Receiver {
  readonly #blobs = new Map<string, IncomingBlob>();
  #outbox: TaskResult[] = [];
  /** Messages of results packed, not sent yet: one goes a turn. */
  readonly #unsent: TaskResult[][] = [];
  /** The bytes of the message announced and not sent yet; every heartbeat repeats them. */
  #sending = 0;
  #flushScheduled = false;
  #heartbeat: NodeJS.Timeout | undefined;
  #closed = false;
  #pingEcho = 0;
  /** The coordinator sent packed tasks, so it reads packed results (see @picompute/sdk/wire's packed-work). */
  #packedPeer = false;
  readonly closed: Promise<void>;

  constructor(
    /** A gRPC Work call, or the server end of an in-process one (the embedded cluster). */
    private readonly call: ServerWorkStream<FromAgent>,
    private readonly deps: SessionDeps,
  ) {
    this.closed = new Promise((resolve) => {
      const end = () => {
        this.close();
        resolve();
      };
      call.on('end', end);
      call.on('error', end);
      call.on('close', end);
      call.on('cancelled', end);
    });
    call.on('data', (msg: ToAgent) => this.#onMessage(msg));
    // What the agent holds goes before the hello, so the coordinator adopts it before it places any task here.
    const held = deps.keeper.attach(this);
    if (held.tasks.length) this.#send({ msg: 'holding', holding: { tasks: held.tasks } });
    this.#send({ msg: 'hello', hello: { ...deps.info, packedWork: true } });
    if (held.results.length) this.deliver(held.results);
    this.#heartbeat = setInterval(() => this.#sendHeartbeat(), deps.heartbeatMs);
    this.#heartbeat.unref();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#heartbeat);
    this.deps.keeper.detach(this);
    for (const blob of this.#blobs.values()) blob.reject(new Error('coordinator stream closed'));
    this.#blobs.clear();
    if (this.call.writable) this.call.end();
  }

  #onMessage(msg: ToAgent): void {
    switch (msg.msg) {
      case 'assign':
        if (msg.assign.packedTasks?.length) {
          this.#packedPeer = true;
          msg.assign.tasks = unpackTasks(msg.assign.packedTasks);
        }
        void this.#onAssign(msg.assign);
        break;
      case 'cancelTasks':
        this.#cancelTasks(msg.cancelTasks.jobId, msg.cancelTasks.tasks);
        break;
      case 'cancel':
        this.deps.keeper.cancel(this, msg.cancel.jobId, msg.cancel.submittedAtMs);
        // The job ended (or was cancelled): no reducer will fetch its runs any more. Not for a cancel of held
        // tasks of one job in particular: the id may be another (keyed) job's now.
        if (!msg.cancel.submittedAtMs) void this.deps.shuffle?.removeJob(msg.cancel.jobId);
        break;
      case 'bundle':
        this.#onBundleChunk(msg.bundle);
        break;
      case 'ping':
        // Echoed at once (not with the next heartbeat), so the round trip measures the link, not our timer.
        this.#pingEcho = msg.ping.sentAtMs;
        void this.#sendHeartbeat();
        break;
      default:
        this.deps.log(`ignoring a message of unknown kind from the coordinator`);
    }
  }

  async #onAssign(assign: Assign): Promise<void> {
    const { job } = assign;
    const run = this.deps.keeper.start(this, job.jobId, job.submittedAtMs ?? 0, assign.tasks, !job.partitions);
    try {
      await this.#run(assign, run);
    } finally {
      this.deps.keeper.end(run);
    }
  }

  /**
   * Runs of tasks the coordinator no longer wants (a backup's loser: another
   * copy finished first). A batch none of whose unfinished tasks is wanted is
   * stopped at once (its worker and the processes its tasks started), which
   * frees its core; one with other tasks still wanted runs on, and the
   * coordinator ignores the unwanted results.
   */
  #cancelTasks(jobId: string, tasks: TaskRef[]): void {
    for (const { tasks: named, stopped } of this.deps.keeper.cancelTasks(this, jobId, tasks)) {
      const which = named.map((t) => `${t.index} attempt ${t.attempt}`).join(', ');
      if (stopped) this.deps.log(`job ${jobId}: stopped task ${which}: another copy of it finished first on another node; its core is free`);
      else this.deps.log(`job ${jobId}: task ${which} is no longer wanted (another copy finished first); it ends with its batch, its result ignored`);
    }
  }

  async #run(assign: Assign, run: Run): Promise<void> {
    const { job } = assign;
    const { signal } = run;
    let bundlePath: string;
    let sharedPath = '';
    try {
      bundlePath = await this.deps.bundles.ensure(job.bundleHash, () => this.#requestBundle(job.bundleHash));
      // The shared value comes the way the code does: once per node, cached by its hash.
      if (job.sharedHash) sharedPath = await this.deps.bundles.ensure(job.sharedHash, () => this.#requestBundle(job.sharedHash!), 'shared');
    } catch (err) {
      if (signal.aborted || this.#closed) return;
      const message = `cannot get the job's code on agent ${this.deps.info.id}: ${(err as Error).message}`;
      this.#settle(
        run,
        assign.tasks.map((t) => ({
          index: t.index,
          attempt: t.attempt,
          ok: false,
          error: { kind: 'BUNDLE', message, stack: '', inputPreview: '', fetchNode: '' },
          logs: [],
          durationMs: 0,
          heapMb: 0,
        })),
      );
      return;
    }
    const kind = assign.tasks[0]?.kind ?? 'MAP';
    const shuffle = this.deps.shuffle && { dir: this.deps.shuffle.dir, spillBytes: this.deps.spillBytes ?? 0 };
    const chunks =
      kind === 'MAP' && this.deps.chunks ? await fetchChunks(this.deps.chunks, assign.tasks, this.deps.info.id, (name) => this.#requestChunk(name)) : undefined;
    if (chunks?.failed.length) this.#settle(run, chunks.failed);
    const tasks = chunks ? chunks.ready : assign.tasks;
    const request = { job, bundlePath, sharedPath, kind, tasks, signal, shuffle, chunkDir: this.deps.chunks?.dir };
    try {
      if (tasks.length === 0) return;
      const outcomes =
        kind === 'KEYED_REDUCE' && this.deps.shuffle
          ? await runKeyedReduces(this.deps.pools, this.deps.shuffle, request, (o) => this.#settle(run, o))
          : await runBatch(this.deps.pools, request);
      this.#settle(run, outcomes);
    } finally {
      chunks?.release();
    }
  }

  /** An input chunk from the coordinator, its pieces handed to `piece` as they come. */
  #requestChunk(name: string): ChunkFetch {
    return (piece) =>
      new Promise((resolve, reject) => {
        this.#blobs.get(name)?.reject(new Error('asked for again'));
        this.#blobs.set(name, { parts: [], resolve: () => resolve(), reject, piece });
        this.#send({ msg: 'needBundle', needBundle: { hash: name } });
      });
  }

  #requestBundle(hash: string): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      this.#blobs.set(hash, { parts: [], resolve, reject });
      this.#send({ msg: 'needBundle', needBundle: { hash } });
    });
  }

  #onBundleChunk(chunk: BlobChunk): void {
    const blob = this.#blobs.get(chunk.hash);
    if (!blob) {
      this.deps.log(`ignoring bundle data nobody asked for (${chunk.hash.slice(0, 12)})`);
      return;
    }
    if (chunk.refused) {
      this.#blobs.delete(chunk.hash);
      blob.reject(new Error(chunk.refused));
      return;
    }
    if (blob.piece) {
      if (chunk.data.length) blob.piece(chunk.data);
    } else blob.parts.push(chunk.data);
    if (chunk.last) {
      this.#blobs.delete(chunk.hash);
      blob.resolve(blob.piece ? Buffer.alloc(0) : Buffer.concat(blob.parts));
    }
  }

  /** A run's outcomes to the keeper; a full disk said in the agent's log, where its owner looks first. */
  #settle(run: Run, outcomes: readonly TaskOutcome[]): void {
    for (const o of outcomes)
      if (o.error?.kind === 'DISK_FULL')
        this.deps.log(
          `job ${run.jobId} task ${o.index} (attempt ${o.attempt}): disk full${diskSpace(this.deps.shuffle?.dir)}: ${o.error.message}; ` +
            'the coordinator runs the task on another node',
        );
    this.deps.keeper.settle(run, outcomes);
  }

  /** Results for the coordinator: sent with those that finish in the same tick. */
  deliver(results: TaskResult[]): void {
    for (const r of results) this.#outbox.push(r);
    this.#scheduleFlush();
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    setImmediate(() => this.#flush());
  }

  /**
   * Sends one message a turn of the loop: encoding one of 60 MiB takes this
   * thread a good part of a second on a slow core, and a heartbeat due
   * meanwhile goes out between two of them rather than after them all. A
   * big one is announced first, in a heartbeat of its own that leaves a turn
   * before the encoding starts: the coordinator then waits for its bytes
   * (see the coordinator's ./silence-clock.ts) instead of taking the agent
   * for dead while they are encoded and on their way.
   */
  #flush(): void {
    this.#flushScheduled = false;
    if (this.#outbox.length) {
      for (const part of packResults(this.#outbox, this.deps.maxMessageBytes - MESSAGE_MARGIN_BYTES)) this.#unsent.push(part);
      this.#outbox = [];
    }
    const part = this.#unsent[0];
    if (!part) return;
    const bytes = part.reduce((n, r) => n + resultBytes(r), 0);
    if (bytes >= ANNOUNCE_BYTES && this.#sending !== bytes) {
      this.#sending = bytes;
      this.#sendHeartbeat();
      this.#scheduleFlush();
      return;
    }
    this.#unsent.shift();
    const jobs = this.#packedPeer && part.every(packableResult) ? byJob(part) : undefined;
    if (!jobs) this.#send({ msg: 'results', results: { results: part } });
    // Written straight into the message's bytes: one copy of the outputs fewer (@picompute/sdk/wire's results-message).
    else if (this.deps.grpc) this.#send(encodePackedResultsMessage(jobs) as unknown as FromAgent);
    else this.#send({ msg: 'results', results: { results: [], packed: jobs.map((j) => ({ jobId: j.jobId, results: packWireResults(j.results) })) } });
    this.#sending = 0;
    if (this.#unsent.length) this.#scheduleFlush();
  }

  takeOver(held: Held): void {
    this.#send({ msg: 'holding', holding: { tasks: held.tasks } });
    if (held.results.length) this.deliver(held.results);
  }

  /** Sent in the timer's own turn, nothing awaited (see ./sensor-readings.ts). */
  #sendHeartbeat(): void {
    const beat = heartbeat(this.deps.pools.busy, this.deps.sensors);
    this.#send({ msg: 'heartbeat', heartbeat: { ...beat, pingEchoMs: this.#pingEcho, speed: this.deps.speed?.() ?? 0, sendingBytes: this.#sending } });
  }

  #send(msg: FromAgent): void {
    if (!this.#closed && this.call.writable) this.call.write(msg);
  }
}

/** The results of each run of one job's, in order. */
function byJob(results: TaskResult[]): JobResults[] {
  const jobs: JobResults[] = [];
  let from = 0;
  for (let i = 1; i <= results.length; i++) {
    if (i < results.length && results[i]!.jobId === results[from]!.jobId) continue;
    jobs.push({ jobId: results[from]!.jobId, results: results.slice(from, i) });
    from = i;
  }
  return jobs;
}

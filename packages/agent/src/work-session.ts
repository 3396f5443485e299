/**
 * One coordinator's Work stream, seen from the agent: it takes task batches,
 * fetches bundles it lacks over the same stream, runs the batches on the pool
 * and sends results back, coalescing those that finish in the same tick into
 * as few messages as stay under the message limit (see ./result-packing.ts).
 * Heartbeats go out every `heartbeatMs`.
 */
import { packResults as packWireResults, packableResult, unpackTasks } from '@picompute/sdk/wire';
import type { Assign, BlobChunk, FromAgent, PackedResults, ServerWorkStream, TaskResult, ToAgent } from '@picompute/sdk/wire';
import type { AgentInfo } from '@picompute/sdk/wire';
import type { TaskOutcome } from './batch.js';
import type { BundleCache } from './bundle-cache.js';
import { heartbeat } from './node-facts.js';
import type { TaskPools } from './pool.js';
import { MESSAGE_MARGIN_BYTES, packResults } from './result-packing.js';
import { runBatch } from './run-batch.js';
import { taskHook } from './task-counters.js';
import type { ThrottleReader } from './throttle.js';
import { runKeyedReduces } from './shuffle/reduce-tasks.js';
import type { ShuffleRuns } from './shuffle/run-store.js';

export interface SessionDeps {
  info: AgentInfo;
  pools: TaskPools;
  bundles: BundleCache;
  heartbeatMs: number;
  /** Largest message the coordinator takes from us, bytes. */
  maxMessageBytes: number;
  thermalPath?: string;
  /** The firmware's throttle state; one reader per agent, so a missing source is probed once. */
  throttle?: ThrottleReader;
  /** Speed per core from ./speed-probe.ts; 0 until measured. */
  speed?: () => number;
  log: (line: string) => void;
  /** Keyed jobs' runs on this agent; how much a keyed map buffers before it spills. */
  shuffle?: ShuffleRuns;
  spillBytes?: number;
}

interface IncomingBlob {
  parts: Buffer[];
  resolve: (bytes: Buffer) => void;
  reject: (err: Error) => void;
}

export class WorkSession {
  /** Per job with batches here: aborts them on cancel; dropped when its last batch ends. */
  readonly #jobs = new Map<string, { controller: AbortController; batches: number }>();
  readonly #blobs = new Map<string, IncomingBlob>();
  #outbox: TaskResult[] = [];
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
    this.#send({ msg: 'hello', hello: { ...deps.info, packedWork: true } });
    this.#heartbeat = setInterval(() => void this.#sendHeartbeat(), deps.heartbeatMs);
    this.#heartbeat.unref();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#heartbeat);
    // Nobody is left to receive these results: free the cores.
    for (const { controller } of this.#jobs.values()) controller.abort(new Error('coordinator stream closed'));
    for (const blob of this.#blobs.values()) blob.reject(new Error('coordinator stream closed'));
    this.#jobs.clear();
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
      case 'cancel':
        this.#jobs.get(msg.cancel.jobId)?.controller.abort(new Error('job cancelled'));
        this.#jobs.delete(msg.cancel.jobId);
        // The job ended (or was cancelled): no reducer will fetch its runs any more.
        void this.deps.shuffle?.removeJob(msg.cancel.jobId);
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
    let entry = this.#jobs.get(job.jobId);
    if (!entry) this.#jobs.set(job.jobId, (entry = { controller: new AbortController(), batches: 0 }));
    entry.batches++;
    try {
      await this.#run(assign, entry.controller.signal);
    } finally {
      if (--entry.batches === 0 && this.#jobs.get(job.jobId) === entry) this.#jobs.delete(job.jobId);
    }
  }

  async #run(assign: Assign, signal: AbortSignal): Promise<void> {
    const { job } = assign;
    let bundlePath: string;
    let sharedPath = '';
    try {
      bundlePath = await this.deps.bundles.ensure(job.bundleHash, () => this.#requestBundle(job.bundleHash));
      // The shared value comes the way the code does: once per node, cached by its hash.
      if (job.sharedHash) sharedPath = await this.deps.bundles.ensure(job.sharedHash, () => this.#requestBundle(job.sharedHash!), 'shared');
    } catch (err) {
      if (signal.aborted || this.#closed) return;
      const message = `cannot get the job's code on agent ${this.deps.info.id}: ${(err as Error).message}`;
      this.#queue(
        assign.tasks.map((t) => ({
          index: t.index,
          attempt: t.attempt,
          ok: false,
          error: { kind: 'BUNDLE', message, stack: '', inputPreview: '', fetchNode: '' },
          logs: [],
          durationMs: 0,
          heapMb: 0,
        })),
        job.jobId,
      );
      return;
    }
    const kind = assign.tasks[0]?.kind ?? 'MAP';
    const shuffle = this.deps.shuffle && { dir: this.deps.shuffle.dir, spillBytes: this.deps.spillBytes ?? 0 };
    const request = { job, bundlePath, sharedPath, kind, tasks: assign.tasks, signal, shuffle };
    const outcomes =
      kind === 'KEYED_REDUCE' && this.deps.shuffle
        ? await runKeyedReduces(this.deps.pools, this.deps.shuffle, request, (o) => !signal.aborted && !this.#closed && this.#queue(o, job.jobId))
        : await runBatch(this.deps.pools, request);
    if (!signal.aborted && !this.#closed) this.#queue(outcomes, job.jobId);
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
    blob.parts.push(chunk.data);
    if (chunk.last) {
      this.#blobs.delete(chunk.hash);
      blob.resolve(Buffer.concat(blob.parts));
    }
  }

  #queue(outcomes: TaskOutcome[], jobId: string): void {
    for (const o of outcomes) {
      this.#outbox.push({
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
      });
      taskHook.observer?.task(o.ok ? 'ok' : (o.error?.kind ?? 'THREW').toLowerCase(), o.durationMs, o.output?.byteLength ?? 0);
    }
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(() => {
        this.#flushScheduled = false;
        const results = this.#outbox;
        this.#outbox = [];
        for (const part of packResults(results, this.deps.maxMessageBytes - MESSAGE_MARGIN_BYTES)) {
          const packed = this.#packedPeer && part.every(packableResult) ? packedByJob(part) : undefined;
          this.#send({ msg: 'results', results: packed ? { results: [], packed } : { results: part } });
        }
      });
    }
  }

  async #sendHeartbeat(): Promise<void> {
    const echo = this.#pingEcho;
    const beat = await heartbeat(this.deps.pools.busy, this.deps.thermalPath);
    const throttled = (await this.deps.throttle?.read()) ?? -1;
    this.#send({ msg: 'heartbeat', heartbeat: { ...beat, pingEchoMs: echo, throttled, speed: this.deps.speed?.() ?? 0 } });
  }

  #send(msg: FromAgent): void {
    if (!this.#closed && this.call.writable) this.call.write(msg);
  }
}

/** Results packed per run of one job's, in order. */
function packedByJob(results: TaskResult[]): PackedResults[] {
  const packed: PackedResults[] = [];
  let from = 0;
  for (let i = 1; i <= results.length; i++) {
    if (i < results.length && results[i]!.jobId === results[from]!.jobId) continue;
    packed.push({ jobId: results[from]!.jobId, results: packWireResults(results.slice(from, i)) });
    from = i;
  }
  return packed;
}

/**
 * The coordinator's side of one agent: it dials the agent, keeps one Work
 * stream open (dialling again with backoff when it breaks), and counts the
 * task batches in flight so the scheduler can keep the agent's window full.
 *
 * An agent that does not prove the cluster key (a stranger's, or one with
 * another key) gets no tasks: the stream is refused before its hello counts,
 * logged once, and dialled again only every 30 s.
 *
 * Liveness comes from this stream only: a break, or no message for
 * `deadAfterMs` (agents send a heartbeat every second), marks the node down.
 * Silence is counted by a timer, tick by tick, and a tick that fires late
 * (this process's event loop was busy, say with a job of millions of tasks)
 * counts as one tick, not as the whole wait: the agent's heartbeats of that
 * time are unread in the socket, not missing (timers run before I/O in a turn
 * of the loop). A busy coordinator once marked a live agent down this way and
 * ran its tasks again. See ./silence-clock.ts.
 */
import * as grpc from '@grpc/grpc-js';
import { channelCredentials, clientChannelOptions, failedHandshake, notMemberMessage } from '@picompute/sdk/auth';
import type { Security } from '@picompute/sdk/auth';
import { SilenceClock } from './silence-clock.js';
import { BLOB_CHUNK_BYTES, packTasks, packableTasks, fromRunKey, runKey, unpackResults, wireServices } from '@picompute/sdk/wire';
import type {
  AgentInfo,
  Assign,
  ClientWorkStream,
  FromAgent,
  Heartbeat,
  HeldTask,
  ListRunsReply,
  ListRunsRequest,
  Results,
  TaskResult,
  ToAgent,
} from '@picompute/sdk/wire';

/** Why a link is down when the agent ended the stream itself: it is stopping (SIGTERM), not lost. */
export const STOPPED_REASON = 'the agent closed its stream (stopped)';
const LIVENESS_TICK_MS = 500;

/** Opens a Work stream to an agent: over gRPC, or in-process for the embedded cluster's own agent. */
export type WorkDialer = () => ClientWorkStream<ToAgent>;

export interface LinkEvents {
  up(link: AgentLink): void;
  down(link: AgentLink, reason: string): void;
  results(link: AgentLink, results: TaskResult[]): void;
  needBundle(link: AgentLink, hash: string): void;
  /** The agent holds these tasks from a coordinator stream that closed (told before its hello, or while up). */
  held(link: AgentLink, tasks: HeldTask[]): void;
}

type AgentStub = grpc.Client & {
  work(): grpc.ClientDuplexStream<ToAgent, FromAgent>;
  listRuns(req: ListRunsRequest, options: grpc.CallOptions, cb: (err: grpc.ServiceError | null, reply: ListRunsReply) => void): void;
};

/** How long an agent may take to list a job's runs (a directory listing) before its runs count as gone. */
const LIST_RUNS_DEADLINE_MS = 10_000;

interface InFlightBatch {
  jobId: string;
  remaining: number;
  cores: number;
  memoryMb: number;
}

export class AgentLink {
  info: AgentInfo | undefined;
  heartbeat: Heartbeat | undefined;
  tasksDone = 0;
  /** Round trip of the last Ping, ms. */
  rttMs = 0;
  /** When the Ping awaiting its echo was sent; NaN once answered. */
  #pingSent = NaN;
  /** True when the agent ended its stream itself (it was stopped) rather than going silent or away. */
  stopped = false;
  #call: ClientWorkStream<ToAgent> | undefined;
  #up = false;
  /** Silence since the last message, counted in on-time ticks (see ./silence-clock.ts). */
  readonly #silence = new SilenceClock(performance.now(), 2 * LIVENESS_TICK_MS);
  #closed = false;
  #retryMs = 200;
  #retry: NodeJS.Timeout | undefined;
  #liveness: NodeJS.Timeout | undefined;
  readonly #stub: AgentStub | undefined;
  readonly #dialWork: WorkDialer;
  /** By job, then by `runKey(index, attempt)`: no string is built per task. */
  readonly #tasks = new Map<string, Map<number, InFlightBatch>>();
  #taskCount = 0;
  /** The batches in flight, in the order sent (what runs first on the agent: see `occupancy`). */
  readonly #inFlight = new Set<InFlightBatch>();
  #batches = 0;
  #cores = 0;
  #memoryMb = 0;
  #loggedFailure = false;
  /** Tasks the agent said it holds before its hello. */
  #held: HeldTask[] | undefined;

  constructor(
    readonly address: string,
    private readonly events: LinkEvents,
    private readonly log: (line: string) => void,
    security: Security,
    private readonly deadAfterMs = 3000,
    dialWork?: WorkDialer,
  ) {
    if (dialWork) this.#dialWork = dialWork;
    else {
      const { AgentService } = wireServices();
      const stub = new AgentService(address, channelCredentials(security), clientChannelOptions(security)) as unknown as AgentStub;
      this.#stub = stub;
      this.#dialWork = () => stub.work();
    }
    this.#dial();
  }

  get id(): string {
    return this.info?.id ?? this.address;
  }

  /** How long the agent has said nothing, counted in on-time liveness ticks (0 while it talks). */
  get silentMs(): number {
    return this.#silence.silentMs;
  }

  get up(): boolean {
    return this.#up;
  }

  get batchesInFlight(): number {
    return this.#batches;
  }

  get tasksInFlight(): number {
    return this.#taskCount;
  }

  /** Core-slots held by the batches in flight (a batch holds its job's cores per task). */
  get coresInFlight(): number {
    return this.#cores;
  }

  /** Memory the batches in flight asked for, MiB. */
  get memoryInFlight(): number {
    return this.#memoryMb;
  }

  /**
   * Core-slots the agent may hold at once: two per core, so a core never
   * waits on a round trip. Measured with `pnpm bench -- --only W1,W2` (2 cores,
   * one run each): one per core gave W1 2.75× plain piscina's rate, two 3.06×,
   * four 3.26×; W2 time vs piscina 0.88×, 0.88×, 1.09× (deeper queues leave the
   * last tasks waiting behind busy cores). Two is the best of both.
   */
  get window(): number {
    return 2 * (this.info?.cores ?? 0);
  }

  send(assign: Assign, cores: number, memoryMb: number): void {
    const batch: InFlightBatch = { jobId: assign.job.jobId, remaining: assign.tasks.length, cores, memoryMb };
    let tasks = this.#tasks.get(batch.jobId);
    if (!tasks) this.#tasks.set(batch.jobId, (tasks = new Map()));
    this.#inFlight.add(batch);
    for (const t of assign.tasks) {
      const key = runKey(t.index, t.attempt);
      if (!tasks.has(key)) this.#taskCount++;
      tasks.set(key, batch);
    }
    this.#batches++;
    this.#cores += cores;
    this.#memoryMb += memoryMb;
    // Tiny tasks cost microseconds only packed (see @picompute/sdk/wire's packed-work), to an agent that reads them.
    if (this.info?.packedWork && packableTasks(assign.tasks))
      this.#write({ msg: 'assign', assign: { job: assign.job, tasks: [], packedTasks: packTasks(assign.tasks) } });
    else this.#write({ msg: 'assign', assign });
  }

  /** A task the agent already runs (or ran: its result follows), taken over as in flight here, alone in its batch. */
  adopt(jobId: string, index: number, attempt: number, cores: number, memoryMb: number): void {
    let tasks = this.#tasks.get(jobId);
    if (!tasks) this.#tasks.set(jobId, (tasks = new Map()));
    const key = runKey(index, attempt);
    if (tasks.has(key)) return;
    const batch: InFlightBatch = { jobId, remaining: 1, cores, memoryMb };
    tasks.set(key, batch);
    this.#inFlight.add(batch);
    this.#taskCount++;
    this.#batches++;
    this.#cores += cores;
    this.#memoryMb += memoryMb;
  }

  /** Marks a task as no longer in flight here; false if it was not (a stale or foreign result). */
  settle(jobId: string, index: number, attempt: number): boolean {
    const tasks = this.#tasks.get(jobId);
    const key = runKey(index, attempt);
    const batch = tasks?.get(key);
    if (!batch) return false;
    tasks!.delete(key);
    if (tasks!.size === 0) this.#tasks.delete(jobId);
    this.#taskCount--;
    if (--batch.remaining === 0) {
      this.#inFlight.delete(batch);
      this.#batches--;
      this.#cores -= batch.cores;
      this.#memoryMb -= batch.memoryMb;
    }
    return true;
  }

  /** Forgets (and tells the agent to stop) every task of a job that ended; `always`: tells it even without tasks here (it may hold the job's files). */
  cancelJob(jobId: string, always = false): void {
    let had = false;
    const tasks = this.#tasks.get(jobId);
    if (tasks) {
      // Every batch of the job ends here: its cores and memory are free again.
      for (const batch of new Set(tasks.values())) {
        this.#inFlight.delete(batch);
        this.#batches--;
        this.#cores -= batch.cores;
        this.#memoryMb -= batch.memoryMb;
      }
      this.#taskCount -= tasks.size;
      this.#tasks.delete(jobId);
      had = true;
    }
    if (had || (always && this.up)) this.#write({ msg: 'cancel', cancel: { jobId } });
  }

  /** Tells the agent to stop the tasks it holds of a job (the one submitted at `submittedAtMs`) this coordinator no longer has. */
  cancelHeld(jobId: string, submittedAtMs: number): void {
    this.#write({ msg: 'cancel', cancel: { jobId, submittedAtMs } });
  }

  /** Forgets (and tells the agent to stop) these runs of a live job's tasks: a backup's loser, whose twin finished first. */
  cancelTasks(jobId: string, tasks: readonly { index: number; attempt: number }[]): void {
    const here = tasks.filter((t) => this.settle(jobId, t.index, t.attempt));
    if (here.length && this.up) this.#write({ msg: 'cancelTasks', cancelTasks: { jobId, tasks: here.map((t) => ({ index: t.index, attempt: t.attempt })) } });
  }

  sendBundle(hash: string, bytes: Buffer): void {
    let at = 0;
    do {
      const data = bytes.subarray(at, at + BLOB_CHUNK_BYTES);
      at += data.length;
      this.#write({ msg: 'bundle', bundle: { hash, data, last: at >= bytes.length } });
    } while (at < bytes.length);
  }

  /**
   * One piece of a blob sent as it is read (an input chunk); `refused`
   * instead says why it cannot be sent. Resolves once the stream takes
   * more (gRPC's 'drain'; at once in-process), or after `maxWaitMs` if it
   * never does (the stream went away).
   */
  sendBlobPiece(hash: string, data: Buffer, last: boolean, refused = '', maxWaitMs = 10_000): Promise<void> {
    const call = this.#call as (ClientWorkStream<ToAgent> & { once?: (event: 'drain', fn: () => void) => unknown; writable?: boolean }) | undefined;
    // False from a closed stream too (nothing will drain): go on, the reads stop with the link.
    if (call?.write({ msg: 'bundle', bundle: { hash, data, last, refused } }) !== false || !call.once || call.writable === false) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, maxWaitMs);
      call.once!('drain', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /**
   * What each job holds here: `running` tasks (one per batch, in the order
   * sent, while their core-slots fit the node's cores: a batch runs its tasks
   * one after another on one worker) and `queued` ones that wait in the
   * agent's window; `cores` counts the running ones' cores only.
   */
  occupancy(): Map<string, { running: number; queued: number; cores: number }> {
    const byJob = new Map<string, { running: number; queued: number; cores: number }>();
    let free = this.info?.cores ?? 0;
    for (const batch of this.#inFlight) {
      let o = byJob.get(batch.jobId);
      if (!o) byJob.set(batch.jobId, (o = { running: 0, queued: 0, cores: 0 }));
      const runs = batch.cores <= free ? 1 : 0;
      free -= runs * batch.cores;
      o.running += runs;
      o.cores += runs * batch.cores;
      o.queued += batch.remaining - runs;
    }
    return byJob;
  }

  /** The in-flight tasks, as (jobId, index, attempt); used to run them again when the node is lost. */
  inFlight(): { jobId: string; index: number; attempt: number }[] {
    const out: { jobId: string; index: number; attempt: number }[] = [];
    for (const [jobId, tasks] of this.#tasks) {
      for (const key of tasks.keys()) out.push({ jobId, ...fromRunKey(key) });
    }
    return out;
  }

  /** The runs of a keyed job the agent holds on its disk (ListRuns); rejects when it cannot say (an agent in this process has none). */
  listRuns(jobId: string): Promise<string[]> {
    const stub = this.#stub;
    if (!stub) return Promise.reject(new Error('an agent in this process keeps no runs across a restart'));
    return new Promise((resolve, reject) =>
      stub.listRuns({ jobId }, { deadline: Date.now() + LIST_RUNS_DEADLINE_MS }, (err, reply) =>
        err ? reject(new Error(err.details || err.message)) : resolve(reply.runIds),
      ),
    );
  }

  /** Sends a Ping; the agent's echo sets rttMs. */
  ping(): void {
    this.#pingSent = performance.now();
    this.#write({ msg: 'ping', ping: { sentAtMs: this.#pingSent } });
  }

  close(): void {
    this.#closed = true;
    this.#up = false;
    clearTimeout(this.#retry);
    clearInterval(this.#liveness);
    this.#call?.cancel();
    this.#stub?.close();
  }

  #dial(): void {
    if (this.#closed) return;
    const call = this.#dialWork();
    this.#call = call;
    call.on('data', (msg: FromAgent) => this.#onMessage(call, msg));
    call.on('error', (err: grpc.ServiceError) => {
      // A peer that fails the TLS handshake never saw a byte of ours: a stranger, or an agent with another key.
      if (err.code === grpc.status.UNAVAILABLE && failedHandshake(err.details ?? '')) return this.#lost(call, notMemberMessage(err.details), true);
      this.#lost(call, err.details || err.message, err.code === grpc.status.UNAUTHENTICATED);
    });
    call.on('end', () => this.#lost(call, STOPPED_REASON));
  }

  #onMessage(call: ClientWorkStream<ToAgent>, msg: FromAgent): void {
    if (call !== this.#call) return;
    this.#silence.heard(performance.now());
    switch (msg.msg) {
      case 'hello': {
        this.info = msg.hello;
        this.#up = true;
        this.#retryMs = 200;
        this.#loggedFailure = false;
        clearInterval(this.#liveness);
        let ticks = 0;
        this.#liveness = setInterval(() => {
          if (this.#silence.tick(performance.now()) > this.deadAfterMs + this.#silence.graceMs)
            return this.#lost(call, `no heartbeat for ${this.deadAfterMs / 1000}s`);
          // A Ping every 5 s keeps the round-trip figure (picompute nodes, bench) current.
          if (ticks++ % 10 === 0) this.ping();
        }, LIVENESS_TICK_MS);
        this.#liveness.unref();
        this.events.up(this);
        const held = this.#held;
        this.#held = undefined;
        // Before this turn's round of the loop places anything.
        if (held?.length && this.#up) this.events.held(this, held);
        break;
      }
      case 'holding':
        if (this.#up) this.events.held(this, msg.holding.tasks);
        else this.#held = msg.holding.tasks;
        break;
      case 'heartbeat':
        this.heartbeat = msg.heartbeat;
        this.#silence.expect(msg.heartbeat.sendingBytes);
        // Every heartbeat echoes the last Ping: only the first echo times the round trip, later ones would time its age.
        if (msg.heartbeat.pingEchoMs === this.#pingSent) {
          this.rttMs = performance.now() - this.#pingSent;
          this.#pingSent = NaN;
        }
        break;
      case 'results': {
        let results: TaskResult[];
        try {
          results = unpacked(msg.results);
        } catch (err) {
          this.#lost(call, `the agent sent results this coordinator cannot read: ${(err as Error).message}`);
          return;
        }
        this.events.results(this, results);
        break;
      }
      case 'needBundle':
        this.events.needBundle(this, msg.needBundle.hash);
        break;
    }
  }

  #lost(call: ClientWorkStream<ToAgent>, reason: string, refused = false): void {
    if (call !== this.#call) return;
    this.#call = undefined;
    this.#held = undefined;
    call.cancel();
    clearInterval(this.#liveness);
    const wasUp = this.#up;
    this.#up = false;
    if (wasUp) this.stopped = reason === STOPPED_REASON;
    if (wasUp) {
      this.events.down(this, reason);
      this.#tasks.clear();
      this.#inFlight.clear();
      this.#taskCount = 0;
      this.#batches = 0;
      this.#cores = 0;
      this.#memoryMb = 0;
    } else if (!this.#loggedFailure && !this.#closed) {
      this.#loggedFailure = true;
      this.log(refused ? `ignoring agent at ${this.address}: ${reason}` : `cannot reach agent at ${this.address} (${reason}); will keep trying`);
    }
    if (this.#closed) return;
    this.#retry = setTimeout(() => this.#dial(), refused ? 30_000 : this.#retryMs);
    this.#retryMs = Math.min(this.#retryMs * 2, 2000);
  }

  #write(msg: ToAgent): void {
    this.#call?.write(msg);
  }
}

function unpacked(results: Results): TaskResult[] {
  if (!results.packed?.length) return results.results;
  const all: TaskResult[] = [...results.results];
  for (const p of results.packed) for (const r of unpackResults(p.jobId, p.results)) all.push(r);
  return all;
}

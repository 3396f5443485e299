/**
 * `@picompute/sdk/client`: submit jobs to a coordinator from a script.
 *
 *   const client = await connect({ coordinator: 'pi5-1.local:7700' });
 *   const job = await client.submit('./job.ts', { args: { n: '10' } });
 *   for await (const ev of job.events()) console.log(ev.tasksDone, '/', ev.tasksTotal);
 *   console.log(await job.result());
 */
import { loadSecurity } from '../auth/security.js';
import type { Security } from '../auth/security.js';
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { coordinatorFromEnv, discoverTimeoutMs, mdnsEnabled } from '../env.js';
import { prepareJob } from '../prepare.js';
import type { PreparedJob, SubmitOptions } from '../prepare.js';
import { valueHashes, withValueRefs } from './value-chunks.js';
import { formatAddress, parseAddress } from '../wire/options.js';
import type * as W from '../wire/messages.js';
import { JobHandle } from './job-handle.js';
import { uploadChunks } from './chunk-upload.js';
import type { UploadListener, UploadProgress } from './chunk-upload.js';
import { ConnectError, CoordinatorRpc, RpcError } from './rpc.js';

export { JobHandle, JobFailedError } from './job-handle.js';
export type { PartialResult } from './job-handle.js';
export type { UploadListener, UploadProgress } from './chunk-upload.js';
export type { Part } from './job-parts.js';
export { AuthError, ConnectError, RpcError } from './rpc.js';
export { loadSecurity } from '../auth/security.js';
export type { Security } from '../auth/security.js';
export { JobFileError } from '../bundle.js';
export { prepareJob } from '../prepare.js';
export type { PreparedJob, SubmitOptions } from '../prepare.js';
export { coordinatorRoles } from './leader.js';
export type { CoordinatorRole } from './leader.js';

/** How a submit sends its input files (chunks: see ../chunk-ref.ts). */
export interface SubmitUploadOptions {
  /** Hears the input upload's progress: before each chunk goes up, and at its end; the upload waits for a promise it returns. */
  onUpload?: UploadListener;
}

/** Inputs up to this size travel inside the Submit message. */
const INLINE_INPUTS_BYTES = 256 * 1024;

export interface ConnectOptions {
  /**
   * `host:port` of the coordinator; without it, PICOMPUTE_COORDINATOR, else
   * one looked for on the local network by mDNS (unless PICOMPUTE_MDNS=off),
   * as the `picompute` command does.
   */
  coordinator?: string;
  /** How long to look for a coordinator by mDNS; default PICOMPUTE_DISCOVERY_MS, else 1 s. */
  discoverTimeoutMs?: number;
  /** Where `coordinator` came from, when locateCoordinator() found it: 'mDNS' makes a takeover look there again for the new leader. */
  source?: CoordinatorSource;
  /**
   * The cluster key and TLS material. Default: found as the daemons find it
   * (PICOMPUTE_KEY_FILE, PICOMPUTE_KEY, ~/.config/picompute/cluster.key).
   */
  security?: Security;
  /** How long to wait for the coordinator to answer before failing; default 5 s. */
  connectTimeoutMs?: number;
  /**
   * For a coordinator in this very process (the embedded cluster): hands
   * uploads (bundles, inputs) straight to it instead of streaming them over
   * gRPC (and, with inProcessPart, reads parts so). Everything else still
   * goes over gRPC. `checked`: an input chunk
   * whose bytes this client has just hashed to its name (as it read them
   * again from their file), so the coordinator need not hash them again.
   */
  inProcessUpload?: (name: string, parts: Buffer[], checked?: boolean) => void;
  /** The same, for reading keyed jobs' parts: a stream of the chunks GetPart would send (see CoordinatorRpc.part). */
  inProcessPart?: (jobId: string, partition: number) => Readable;
}

/**
 * Looks for coordinators' `_picompute-coord._tcp` records; resolves with the
 * address of the one announcing itself the leader (standbys after it, `a,b`,
 * so the client follows a takeover), or with the standbys alone when no
 * leader answered in time, or undefined. With PICOMPUTE_MDNS=off it opens no
 * socket at all.
 */
export async function findCoordinator(timeoutMs = discoverTimeoutMs()): Promise<string | undefined> {
  if (!mdnsEnabled()) return undefined;
  const { COORDINATOR_SERVICE, lookFor, pickCoordinators } = await import('../mdns/index.js');
  return lookFor(COORDINATOR_SERVICE, timeoutMs, pickCoordinators);
}

/** Where a coordinator address came from (the CLI says so when mDNS found it). */
export type CoordinatorSource = 'named' | 'PICOMPUTE_COORDINATOR' | 'mDNS';

/**
 * The coordinator to talk to, looked for as every picompute process does:
 * the one named, else PICOMPUTE_COORDINATOR, else one found by mDNS unless
 * PICOMPUTE_MDNS=off. Undefined when there is none.
 */
export async function locateCoordinator(named?: string, timeoutMs = discoverTimeoutMs()): Promise<{ address: string; source: CoordinatorSource } | undefined> {
  if (named) return { address: named, source: 'named' };
  const fromEnv = coordinatorFromEnv();
  if (fromEnv) return { address: fromEnv, source: 'PICOMPUTE_COORDINATOR' };
  const found = await findCoordinator(timeoutMs);
  return found ? { address: found, source: 'mDNS' } : undefined;
}

export async function connect(options: ConnectOptions = {}): Promise<Client> {
  const timeout = options.discoverTimeoutMs ?? discoverTimeoutMs();
  const found = await locateCoordinator(options.coordinator, timeout);
  const located = found && options.source ? { ...found, source: options.source } : found;
  if (!located) {
    throw new ConnectError(
      mdnsEnabled()
        ? `no coordinator answered on the local network within ${timeout / 1000}s (mDNS); name one with { coordinator: 'host:port' } or ` +
            'PICOMPUTE_COORDINATOR=host:port'
        : `no coordinator named, and mDNS is off (PICOMPUTE_MDNS=${process.env.PICOMPUTE_MDNS}) so none was looked for; name one with { coordinator: ` +
            `'host:port' } or PICOMPUTE_COORDINATOR=host:port`,
    );
  }
  const named = located.address;
  // Several coordinators (one leads, the others stand by: see ./leader.ts).
  const several = named.split(',').filter((a) => a.trim());
  // Found by mDNS: at a takeover, look again there for the new leader.
  if (several.length > 1 || located.source === 'mDNS') {
    const { leaderRpc } = await import('./leader.js');
    const lookAgain = located.source === 'mDNS' ? async () => (await findCoordinator(timeout))?.split(',') ?? [] : undefined;
    const rpc = await leaderRpc(several, options.security ?? (await loadSecurity()), options.connectTimeoutMs ?? 5000, lookAgain);
    return new Client(rpc, options);
  }
  const address = formatAddress(parseAddress(named, 'coordinator'));
  const rpc = new CoordinatorRpc(address, options.security ?? (await loadSecurity()));
  try {
    await rpc.ready(options.connectTimeoutMs ?? 5000);
  } catch (err) {
    rpc.close();
    throw err;
  }
  return new Client(rpc, options);
}

export class Client {
  private readonly inProcessUpload?: ConnectOptions['inProcessUpload'];

  constructor(
    private readonly rpc: CoordinatorRpc,
    inProcess: Pick<ConnectOptions, 'inProcessUpload' | 'inProcessPart'> = {},
  ) {
    this.inProcessUpload = inProcess.inProcessUpload;
    rpc.inProcessPart = inProcess.inProcessPart;
  }

  get address(): string {
    return this.rpc.address;
  }

  async submit(file: string, options: SubmitOptions & SubmitUploadOptions = {}): Promise<JobHandle> {
    return this.submitPrepared(await prepareJob(file, options), options);
  }

  /**
   * Uploads the inputs (unless small enough to ride in the request), then
   * submits. The bundle is sent only when the coordinator says it lacks it:
   * it keeps every bundle it was sent (content-addressed, in its state), so
   * a job file submitted again costs no upload (W4: a new `picompute submit`
   * process saves a whole RPC). A coordinator in this process gets it first.
   */
  async submitPrepared(prepared: PreparedJob, options: SubmitUploadOptions = {}): Promise<JobHandle> {
    let job = prepared;
    let missing: Set<string> | undefined;
    if (job.bigValues.length && !this.inProcessUpload) {
      // Big inputs(args) values go as chunks behind the submit, if the coordinator takes them (./value-chunks.ts).
      // In this process the inputs cost no network time, and hashing and storing them as chunks would cost.
      const hashes = valueHashes(job);
      const reply = await this.#hasChunks(hashes);
      if (reply.takesValues) {
        job = withValueRefs(job, hashes);
        missing = new Set(reply.missing);
      }
    } else if (job.chunks.length) {
      // Asked before the submit, so a chunk the cluster has (an earlier submit of the same files) is not sent again.
      missing = new Set((await this.#hasChunks(job.chunks.map((c) => c.hash))).missing);
    }
    // Small inputs ride in the Submit message itself; large ones go up as a blob, in chunks.
    const inline = job.packedBytes <= INLINE_INPUTS_BYTES;
    // Inputs are used once: a random upload name, no hashing (see the coordinator's BlobStore).
    const inputsHash = inline ? '' : `upload:${randomBytes(16).toString('hex')}`;
    const uploads: Promise<unknown>[] = [];
    if (this.inProcessUpload) uploads.push(this.#upload(job.bundleHash, [job.bundle], job.request.user));
    // Content-addressed like the bundle; sent with every submit (the coordinator keeps one copy per hash).
    if (job.shared) uploads.push(this.#upload(job.shared.hash, [job.shared.bytes], job.request.user));
    if (!inline) uploads.push(this.#upload(inputsHash, job.packedInputs, job.request.user));
    await Promise.all(uploads);
    const request: W.SubmitRequest = {
      ...job.request,
      bundleHash: job.bundleHash,
      inputsHash,
      inputs: inline ? Buffer.concat(job.packedInputs) : Buffer.alloc(0),
    };
    let handle: JobHandle;
    try {
      handle = await this.#submitWatch(request);
    } catch (err) {
      // The coordinator refuses before it takes the inputs, so they are still there for the second try.
      if (!(err instanceof RpcError) || err.missingBlob !== job.bundleHash) throw err;
      await this.#upload(job.bundleHash, [job.bundle], job.request.user);
      handle = await this.#submitWatch(request);
    }
    if (missing) this.#sendChunks(handle, job, missing, options.onUpload);
    return handle;
  }

  /**
   * Streams the chunks the coordinator lacks while the job runs (its maps
   * start as their chunks land); an upload that fails cancels the job, and
   * the handle's result() throws the upload's error.
   */
  #sendChunks(handle: JobHandle, job: PreparedJob, missing: Set<string>, listener?: UploadListener): void {
    const progress: UploadProgress = {
      chunks: job.chunks.length,
      bytes: job.chunks.reduce((n, c) => n + c.length, 0),
      chunksSkipped: job.chunks.filter((c) => !missing.has(c.hash)).length,
      bytesToSend: job.chunks.reduce((n, c) => n + (missing.has(c.hash) ? c.length : 0), 0),
      chunksSent: 0,
      bytesSent: 0,
      done: false,
    };
    const user = job.request.user;
    const send = this.inProcessUpload
      ? async (name: string, pieces: AsyncIterable<Buffer>) => {
          // Same process: one chunk's pieces at a time, handed over without gRPC once chunkPieces has checked them against the hash.
          const parts: Buffer[] = [];
          for await (const p of pieces) parts.push(p);
          this.inProcessUpload!(name, parts, true);
        }
      : (name: string, pieces: AsyncIterable<Buffer>) => this.rpc.putBlobStream(name, pieces, user);
    handle.upload = progress;
    handle.uploaded = uploadChunks(job.chunks, missing, send, progress, listener).catch(async (err: Error) => {
      await handle.cancel().catch(() => {});
      throw new Error(`job ${handle.id} was cancelled: its input could not be sent: ${err.message}`);
    });
    // Seen through result() and `uploaded`, not lost here.
    handle.uploaded.catch(() => {});
  }

  #hasChunks(hashes: string[]): Promise<W.HasChunksReply> {
    return this.rpc.unary<W.HasChunksRequest, W.HasChunksReply>('hasChunks', { hashes: [...new Set(hashes)] });
  }

  /** Submit and watch on one stream: its first event, sent once the job is on disk, names the job. */
  async #submitWatch(request: W.SubmitRequest): Promise<JobHandle> {
    const stream = this.rpc.stream<W.SubmitRequest, W.JobEvent>('submitWatch', request);
    const events = stream[Symbol.asyncIterator]();
    const first = await events.next();
    if (first.done) throw new Error(`the coordinator at ${this.address} closed the submit stream without naming the job`);
    return new JobHandle(first.value.jobId, this.rpc, { first: first.value, rest: events, cancel: () => stream.cancel() });
  }

  async #upload(name: string, parts: Iterable<Buffer>, user: string): Promise<unknown> {
    if (this.inProcessUpload) return this.inProcessUpload(name, [...parts]);
    return this.rpc.putBlob(name, parts, user);
  }

  /** A handle on a job submitted earlier (by id). */
  job(id: string): JobHandle {
    return new JobHandle(id, this.rpc);
  }

  /** Jobs with each user's share of the cores in use; `active` or `finished` to narrow. */
  async jobs(filter: W.ListJobsRequest = {}): Promise<W.ListJobsReply> {
    return this.rpc.unary<W.ListJobsRequest, W.ListJobsReply>('listJobs', filter);
  }

  async logs(jobId: string): Promise<W.LogLine[]> {
    const lines: W.LogLine[] = [];
    for await (const line of this.rpc.stream<W.GetLogsRequest, W.LogLine>('getLogs', { jobId })) lines.push(line);
    return lines;
  }

  /** Each map task of a job: state, node, attempt, start, run time and heap of its last run (like `squeue -s`). */
  async tasks(jobId: string): Promise<W.TaskStatus[]> {
    const tasks: W.TaskStatus[] = [];
    for await (const chunk of this.rpc.stream<W.ListTasksRequest, W.TaskStatusChunk>('listTasks', { jobId })) tasks.push(...chunk.tasks);
    return tasks;
  }

  /**
   * Runs again the tasks of an ended job that did not succeed (failed,
   * cancelled, never ran), reusing the outputs of those that did, under the
   * same id (`picompute requeue ID --failed`). Refused for a COMPLETED job.
   */
  async requeueFailed(jobId: string): Promise<{ job: JobHandle; summary: W.JobSummary }> {
    const summary = await this.rpc.unary<W.RequeueRequest, W.JobSummary>('requeue', { jobId, failed: true });
    return { job: new JobHandle(jobId, this.rpc), summary };
  }

  /** Stops placing tasks on a node (`drain: true`) or allows it again. */
  async drain(node: string, drain = true): Promise<W.NodeStatus> {
    return this.rpc.unary<W.NodeRequest, W.NodeStatus>(drain ? 'drain' : 'resume', { node });
  }

  async nodes(): Promise<W.NodeStatus[]> {
    return (await this.nodeList()).nodes;
  }

  /** The nodes and the coordinator's own version (to tell which agents are older). */
  async nodeList(): Promise<W.ListNodesReply> {
    return this.rpc.unary<W.ListNodesRequest, W.ListNodesReply>('listNodes', {});
  }

  close(): void {
    this.rpc.close();
  }
}

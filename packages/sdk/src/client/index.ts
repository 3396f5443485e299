/**
 * `@picompute/sdk/client`: submit jobs to a coordinator from a script.
 *
 *   const client = await connect({ coordinator: 'pi5-1.local:7700' });
 *   const job = await client.submit('./job.ts', { args: { n: '10' } });
 *   for await (const ev of job.events()) console.log(ev.tasksDone, '/', ev.tasksTotal);
 *   console.log(await job.result());
 */
import { userInfo } from 'node:os';
import { loadSecurity } from '../auth/security.js';
import type { Security } from '../auth/security.js';
import { bundleJob, clientBundleDir, importBundle, JobFileError, sha256 } from '../bundle.js';
import { encode } from '../codec.js';
import { packFrames } from '../framing.js';
import { isFoldJob } from '../job.js';
import type { JobArgs } from '../job.js';
import { parseDuration, parseSize } from '../units.js';
import { formatAddress, parseAddress } from '../wire/options.js';
import type * as W from '../wire/messages.js';
import { JobHandle } from './job-handle.js';
import { ConnectError, CoordinatorRpc } from './rpc.js';

export { JobHandle, JobFailedError } from './job-handle.js';
export { AuthError, ConnectError, RpcError } from './rpc.js';
export { loadSecurity } from '../auth/security.js';
export type { Security } from '../auth/security.js';
export { JobFileError } from '../bundle.js';

export interface ConnectOptions {
  /** `host:port` of the coordinator; without it, one is looked for on the local network (mDNS). */
  coordinator?: string;
  /** How long to look for a coordinator by mDNS; default 1.5 s. */
  discoverTimeoutMs?: number;
  /**
   * The cluster key and TLS material. Default: found as the daemons find it
   * (PICOMPUTE_KEY_FILE, PICOMPUTE_KEY, ~/.config/picompute/cluster.key).
   */
  security?: Security;
  /** How long to wait for the coordinator to answer before failing; default 5 s. */
  connectTimeoutMs?: number;
}

export interface SubmitOptions {
  args?: JobArgs;
  /** Per-task wall-clock limit: milliseconds, or a duration such as "30s". */
  timeLimit?: number | string;
  /** Per-task heap limit: MiB, or a size such as "512M". */
  memPerTask?: number | string;
  /** Overrides the job's own `name`. */
  name?: string;
  /** Cores each task holds while it runs (for tasks that use threads of their own); default 1. */
  coresPerTask?: number;
  /** Re-runs of a task that throws before the job fails; default 0. */
  retries?: number;
  /** Higher runs first among the user's own jobs; default 0. */
  priority?: number;
  /** Only nodes with this label (`picompute agent --label`). */
  constraint?: string;
  /** `afterok:ID`: start after job ID completes; cancelled if it does not. */
  dependency?: string;
  /**
   * Whose share of the cluster the job counts against; default the OS user.
   * (A gateway submitting for others sets it; any holder of the cluster key is trusted.)
   */
  user?: string;
}

/** Looks for a coordinator's `_picompute-coord._tcp` record; resolves with its address, or undefined. */
export async function findCoordinator(timeoutMs = 1500): Promise<string | undefined> {
  const { COORDINATOR_SERVICE, dialAddress, findOne } = await import('../mdns/index.js');
  return findOne(COORDINATOR_SERVICE, timeoutMs, dialAddress);
}

export async function connect(options: ConnectOptions = {}): Promise<Client> {
  let named = options.coordinator;
  if (!named) {
    const timeout = options.discoverTimeoutMs ?? 1500;
    named = await findCoordinator(timeout);
    if (!named) throw new ConnectError(`no coordinator answered on the local network within ${timeout / 1000}s (mDNS); name one with { coordinator: 'host:port' }`);
  }
  const address = formatAddress(parseAddress(named, 'coordinator'));
  const rpc = new CoordinatorRpc(address, options.security ?? (await loadSecurity()));
  try {
    await rpc.ready(options.connectTimeoutMs ?? 5000);
  } catch (err) {
    rpc.close();
    throw err;
  }
  return new Client(rpc);
}

/** A job file bundled, checked and with its inputs encoded: everything before the first RPC. */
export interface PreparedJob {
  request: Omit<W.SubmitRequest, 'bundleHash' | 'inputsHash'>;
  bundle: Buffer;
  bundleHash: string;
  inputs: Buffer;
}

/**
 * Bundles the job file, loads it, runs `inputs(args)` and encodes them.
 * Throws JobFileError (a user mistake; nothing is submitted) on any problem.
 */
export async function prepareJob(file: string, options: SubmitOptions = {}): Promise<PreparedJob> {
  const args = { ...options.args };
  const timeLimitMs = typeof options.timeLimit === 'string' ? parseDuration(options.timeLimit, '--time-limit') : (options.timeLimit ?? 0);
  const memoryMb = typeof options.memPerTask === 'string' ? parseSize(options.memPerTask, '--mem-per-task') : (options.memPerTask ?? 0);
  const bundle = await bundleJob(file);
  let job;
  try {
    job = await importBundle(bundle.code, bundle.hash, clientBundleDir());
  } catch (err) {
    if (err instanceof JobFileError) throw new JobFileError(`${file} is ${err.message}`);
    throw new JobFileError(`${file} failed while loading: ${(err as Error).stack ?? err}`);
  }
  const frames: Buffer[] = [];
  try {
    for await (const input of await job.inputs(args)) frames.push(encode(input));
  } catch (err) {
    throw new JobFileError(`${file}: inputs(args) failed: ${(err as Error).message}`);
  }
  return {
    request: {
      name: options.name ?? job.name ?? bundle.entry.replace(/^.*\//, '').replace(/\.[cm]?[jt]s$/, ''),
      taskCount: frames.length,
      hasReduce: isFoldJob(job),
      args,
      timeLimitMs,
      memoryMb,
      user: options.user ?? userInfo().username,
      source: file,
      coresPerTask: options.coresPerTask ?? 1,
      retries: options.retries ?? 0,
      priority: options.priority ?? 0,
      constraint: options.constraint ?? '',
      dependency: options.dependency ?? '',
    },
    bundle: bundle.code,
    bundleHash: bundle.hash,
    inputs: packFrames(frames),
  };
}

export class Client {
  constructor(private readonly rpc: CoordinatorRpc) {}

  get address(): string {
    return this.rpc.address;
  }

  async submit(file: string, options: SubmitOptions = {}): Promise<JobHandle> {
    return this.submitPrepared(await prepareJob(file, options));
  }

  async submitPrepared(job: PreparedJob): Promise<JobHandle> {
    const inputsHash = sha256(job.inputs);
    await Promise.all([this.rpc.putBlob(job.bundleHash, job.bundle), this.rpc.putBlob(inputsHash, job.inputs)]);
    const { jobId } = await this.rpc.unary<W.SubmitRequest, W.SubmitReply>('submit', {
      ...job.request,
      bundleHash: job.bundleHash,
      inputsHash,
    });
    return new JobHandle(jobId, this.rpc);
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

  /** Stops placing tasks on a node (`drain: true`) or allows it again. */
  async drain(node: string, drain = true): Promise<W.NodeStatus> {
    return this.rpc.unary<W.NodeRequest, W.NodeStatus>(drain ? 'drain' : 'resume', { node });
  }

  async nodes(): Promise<W.NodeStatus[]> {
    return (await this.rpc.unary<W.ListNodesRequest, W.ListNodesReply>('listNodes', {})).nodes;
  }

  close(): void {
    this.rpc.close();
  }
}

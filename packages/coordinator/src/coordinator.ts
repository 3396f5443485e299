/**
 * The coordinator daemon: a CoordinatorService gRPC server over a Cluster.
 * Every call must prove the cluster key, and so must every agent it dials;
 * only a coordinator bound to loopback may run without a key. Job state
 * lives in SQLite under the state dir and survives a restart (even SIGKILL).
 */
import { randomBytes } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { bindServer, refusalLogger, requireKeyUnlessLoopback, serverInterceptors } from '@picompute/sdk/auth';
import type { Security } from '@picompute/sdk/auth';
import { formatAddress, serverOptions, parseAddress, wireServices } from '@picompute/sdk/wire';
import type { WorkDialer } from './agent-link.js';
import { BlobStore } from './blob-store.js';
import { Cluster, DEFAULT_TIME_LIMIT_MS } from './cluster.js';
import { formatDuration } from '@picompute/sdk/units';
import { PICOMPUTE_VERSION } from '@picompute/sdk/version';
import { defaultStateDir, openDatabase } from './state/database.js';
import { StateStore } from './state/store.js';
import { uploadDir } from './upload-spill.js';

/** Two of the largest upload (1 GiB): a user can have one job's inputs waiting while sending the next. */
export const DEFAULT_UPLOAD_QUOTA_BYTES = 2 * 1024 ** 3;
import { coordinatorService } from './service.js';

export interface CoordinatorOptions {
  /** Where jobs, tasks, results and logs are kept (SQLite); default ~/.local/state/picompute. */
  stateDir?: string;
  /** Finished jobs and their results are kept this long, ms; default 7 days. */
  keepMs?: number;
  /** False for state that dies with the process (the embedded cluster): no fsync. Default true. */
  durable?: boolean;
  /** Default 127.0.0.1; any other address needs `security.key`. */
  host?: string;
  security?: Security;
  /** 0 picks a free port. */
  port?: number;
  /** Agents to dial, `host:port` each. */
  agents?: string[];
  /** Find agents and announce this coordinator over mDNS. */
  mdns?: boolean;
  /** Per-task time limit of a job that names none, ms (Slurm's DefaultTime); default 1 hour. 0: none. */
  defaultTimeLimitMs?: number;
  /** The most a job may ask for per task, ms (Slurm's MaxTime); a submit over it is refused. Default 0: no cap. */
  maxTimeLimitMs?: number;
  /** A node that sends nothing for this long is marked down; default 3 s (agents beat every second). */
  deadAfterMs?: number;
  /** An upload (PutBlob) that sends nothing for this long is dropped; default 30 s. */
  uploadIdleMs?: number;
  /** Largest blob (bundle or packed inputs) a client may upload; default 1 GiB. */
  maxBlobBytes?: number;
  /** What one user's uploads waiting for their submit may hold on disk, bytes; default 2 GiB. */
  uploadQuotaBytes?: number;
  /** Largest message a peer may send, bytes; default 64 MiB. */
  maxMessageBytes?: number;
  log?: (line: string) => void;
}

export interface Coordinator {
  readonly id: string;
  readonly address: string;
  readonly cluster: Cluster;
  /**
   * Takes a blob from a client in this very process (the embedded cluster)
   * as PutBlob would, without the upload: same names and checks.
   */
  putBlob(name: string, parts: Buffer[]): void;
  /** Adds an agent by address; `dialWork` for one in this process (see Cluster.addAgent). */
  addAgent(address: string, dialWork?: WorkDialer): void;
  close(): Promise<void>;
}

export async function startCoordinator(options: CoordinatorOptions = {}): Promise<Coordinator> {
  const host = options.host ?? '127.0.0.1';
  const security = options.security ?? {};
  requireKeyUnlessLoopback(security, host, 'coordinator');
  const log = options.log ?? ((line: string) => console.error(`[coordinator] ${line}`));
  const agents = (options.agents ?? []).map((a) => formatAddress(parseAddress(a, '--agent')));
  const id = `coord-${randomBytes(4).toString('hex')}`;
  const durable = options.durable ?? true;
  const stateDir = options.stateDir ?? defaultStateDir();
  const store = new StateStore(openDatabase(stateDir, { durable, log }), durable, log);
  const keepMs = options.keepMs ?? 7 * 86_400_000;
  // Deletes in the background (see state/reclaimer.ts): start-up does not wait for it.
  const purge = () => {
    const purging = store.purge(Date.now() - keepMs);
    if (purging) void store.reclaimer.idle().then(() => log(`purged ${purging} job(s) that ended more than ${formatDuration(keepMs)} ago`));
  };
  purge();
  const purgeTimer = setInterval(purge, 3_600_000).unref();
  const blobs = new BlobStore(undefined, undefined, { dir: uploadDir(stateDir), quotaBytes: options.uploadQuotaBytes ?? DEFAULT_UPLOAD_QUOTA_BYTES });
  const cluster = new Cluster(store, blobs, log, security, options.deadAfterMs, {
    defaultMs: options.defaultTimeLimitMs ?? DEFAULT_TIME_LIMIT_MS,
    maxMs: options.maxTimeLimitMs ?? 0,
  });
  const refused = refusalLogger(log);
  const server = new grpc.Server({ ...serverOptions(options.maxMessageBytes), interceptors: serverInterceptors(security, refused) });
  server.addService(wireServices().CoordinatorService.service, coordinatorService(cluster, blobs, id, {
    uploadIdleMs: options.uploadIdleMs ?? 30_000,
    maxBlobBytes: options.maxBlobBytes ?? 1024 ** 3,
    diskFull: () => {
      store.diskFilled();
      return store.disk.refuse();
    },
    storedBlob: (hash) => store.hasBlob(hash),
  }));
  const bindTo = formatAddress({ host, port: options.port ?? 0 });
  const port = await bindServer(server, bindTo, security, 'coordinator', refused);
  for (const a of agents) cluster.addAgent(a);
  // mDNS code loads only when it is used.
  const discovery = options.mdns ? (await import('./discovery.js')).startDiscovery(cluster, { id, port, version: PICOMPUTE_VERSION }, log) : undefined;
  return {
    id,
    address: formatAddress({ host, port }),
    cluster,
    putBlob: (name, parts) => blobs.put(name, parts),
    addAgent: (address, dialWork) => cluster.addAgent(formatAddress(parseAddress(address, '--agent')), dialWork),
    async close() {
      clearInterval(purgeTimer);
      await discovery?.close();
      cluster.close();
      await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
      blobs.close();
      store.close();
    },
  };
}

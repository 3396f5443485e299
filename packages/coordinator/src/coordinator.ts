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
import { defaultStateDir, openDatabase } from './state/database.js';
import { StateStore } from './state/store.js';
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
  /** Largest message a peer may send, bytes; default 64 MiB. */
  maxMessageBytes?: number;
  /** Serve Prometheus metrics at http://metricsHost:metricsPort/metrics (0 picks a port); unset: no metrics. */
  metricsPort?: number;
  /** Default 127.0.0.1: metrics reach the LAN only when asked for. */
  metricsHost?: string;
  /**
   * Serve the web dashboard (see ./dashboard/server.ts) on host:port; unset: none.
   * `optional`: a port in use is logged and the coordinator runs without it
   * (the default port, where another coordinator may hold it).
   */
  dashboard?: { host: string; port: number; optional?: boolean };
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
  /** `http://host:port/metrics` when metrics are served. */
  readonly metricsUrl?: string;
  /** `http://host:port` of the dashboard when it is served. */
  readonly dashboardUrl?: string;
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
  const store = new StateStore(openDatabase(options.stateDir ?? defaultStateDir(), { durable }), durable);
  const keepMs = options.keepMs ?? 7 * 86_400_000;
  const purge = () => {
    const purged = store.purge(Date.now() - keepMs);
    if (purged) log(`purged ${purged} job(s) that ended more than ${formatDuration(keepMs)} ago`);
  };
  purge();
  const purgeTimer = setInterval(purge, 3_600_000).unref();
  const blobs = new BlobStore();
  const cluster = new Cluster(store, blobs, log, security, options.deadAfterMs, {
    defaultMs: options.defaultTimeLimitMs ?? DEFAULT_TIME_LIMIT_MS,
    maxMs: options.maxTimeLimitMs ?? 0,
  });
  const refused = refusalLogger(log);
  const server = new grpc.Server({ ...serverOptions(options.maxMessageBytes), interceptors: serverInterceptors(security, refused) });
  server.addService(wireServices().CoordinatorService.service, coordinatorService(cluster, blobs, id, { uploadIdleMs: options.uploadIdleMs ?? 30_000, maxBlobBytes: options.maxBlobBytes ?? 1024 ** 3 }));
  const bindTo = formatAddress({ host, port: options.port ?? 0 });
  const port = await bindServer(server, bindTo, security, 'coordinator', refused);
  for (const a of agents) cluster.addAgent(a);
  // mDNS code loads only when it is used.
  const discovery = options.mdns ? (await import('./discovery.js')).startDiscovery(cluster, { id, port, version: '0.1.0' }, log) : undefined;
  // prom-client loads only when metrics are asked for.
  const metrics = options.metricsPort === undefined ? undefined : await (await import('./metrics/index.js')).serveCoordinatorMetrics(cluster, options.metricsHost ?? '127.0.0.1', options.metricsPort);
  const dashboard = options.dashboard && (await startDashboard(cluster, options.dashboard, security.key, log));
  return {
    id,
    dashboardUrl: dashboard?.url,
    metricsUrl: metrics && `${metrics.url}/metrics`,
    address: formatAddress({ host, port }),
    cluster,
    putBlob: (name, parts) => blobs.put(name, parts),
    addAgent: (address, dialWork) => cluster.addAgent(formatAddress(parseAddress(address, '--agent')), dialWork),
    async close() {
      clearInterval(purgeTimer);
      await discovery?.close();
      // Scrapes during shutdown get 503 from here on, never a hang.
      const metricsClosed = Promise.all([metrics?.close(), dashboard?.close()]);
      cluster.close();
      await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
      await metricsClosed;
      store.close();
    },
  };
}

async function startDashboard(cluster: Cluster, o: NonNullable<CoordinatorOptions['dashboard']>, key: Buffer | undefined, log: (line: string) => void) {
  const { serveDashboard } = await import('./dashboard/server.js');
  try {
    return await serveDashboard(cluster, { host: o.host, port: o.port, key, log });
  } catch (err) {
    if (!o.optional) throw err;
    log(`no dashboard: ${(err as Error).message} (or --no-dashboard)`);
    return undefined;
  }
}

/**
 * The coordinator daemon: a CoordinatorService gRPC server over a Cluster.
 * Every call must prove the cluster key, and so must every agent it dials;
 * only a coordinator bound to loopback may run without a key. Job state
 * lives in SQLite under the state dir and survives a restart (even SIGKILL),
 * or in PostgreSQL (`stateUrl`), where several coordinators lead by turns:
 * one over PostgreSQL listens at once but answers "not the leader, try X"
 * until it leads, and startCoordinator() returns only then.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import * as grpc from '@grpc/grpc-js';
import { bindServer, refusalLogger, requireKeyUnlessLoopback, serverInterceptors } from '@picompute/sdk/auth';
import { formatAddress, serverOptions, wireServices } from '@picompute/sdk/wire';
import type { WorkDialer } from './agent-link.js';
import { BlobStore } from './blob-store.js';
import { Cluster } from './cluster.js';
import { formatDuration } from '@picompute/sdk/units';
import { PICOMPUTE_VERSION } from '@picompute/sdk/version';
import { openDatabase } from './state/database.js';
import { StateStore } from './state/store.js';
import { switchableService } from './standby-service.js';
import { uploadDir } from './upload-spill.js';

import { coordinatorService } from './service.js';
import { PartProxy, partLocation } from './part-proxy.js';
import type { LocalRunReader } from './part-proxy.js';
import { UserError } from './submit-checks.js';
import { coordinatorOptions } from './coordinator-options.js';
import type { CoordinatorOptions } from './coordinator-options.js';
import { address } from '@picompute/sdk/options';

export interface Coordinator {
  readonly id: string;
  readonly address: string;
  readonly cluster: Cluster;
  /**
   * Takes a blob from a client in this very process (the embedded cluster)
   * as PutBlob would, without the upload: same names and checks.
   */
  putBlob(name: string, parts: Buffer[], checked?: boolean): void;
  /** Streams a keyed job's part to a client in this very process as GetPart would, without the RPC (see PartProxy.read). */
  readPart(jobId: string, partition: number): Readable;
  /**
   * The file the chunk store keeps an input chunk in (checked against its
   * name when it arrived), for an agent in this very process to link into its
   * cache instead of being sent it; undefined when the store lacks it.
   */
  chunkFile(hash: string): string | undefined;
  /**
   * Adds an agent by address; for one in this process, `dialWork` (see
   * Cluster.addAgent) and `readRun`, which reads its parts for GetPart.
   */
  addAgent(address: string, dialWork?: WorkDialer, readRun?: LocalRunReader): void;
  /** `http://host:port/metrics` when metrics are served. */
  readonly metricsUrl?: string;
  /** `http://host:port` of the dashboard when it is served. */
  readonly dashboardUrl?: string;
  /** Over PostgreSQL: resolves, with the reason, if another coordinator took the lead from this one (it has then stopped writing). */
  readonly steppedDown?: Promise<string>;
  close(): Promise<void>;
}

export async function startCoordinator(given: CoordinatorOptions = {}): Promise<Coordinator> {
  const options = coordinatorOptions(given);
  const { host, security, log, agents, durable, stateDir, keepMs } = options;
  requireKeyUnlessLoopback(security, host, 'coordinator');
  const id = `coord-${randomBytes(4).toString('hex')}`;
  const refused = refusalLogger(log);
  const server = new grpc.Server({ ...serverOptions(options.maxMessageBytes), interceptors: serverInterceptors(security, refused) });
  const service = switchableService(wireServices().CoordinatorService.service);
  let steppedDown: Promise<string> | undefined;
  let state: { store: StateStore; leader?: import('./state/postgres/leader.js').PgLeader };
  let port: number;
  // mDNS code loads only when it is used.
  const mdnsCode = options.mdns ? await import('./discovery.js') : undefined;
  const me = (listening: number) => ({ id, port: listening, version: PICOMPUTE_VERSION, advertiseAddress: options.advertiseAddress });
  let announcement: import('./discovery.js').Announcement | undefined;
  if (options.stateUrl) {
    const pgState = await import('./state/postgres/standby.js');
    // A standby announces itself as one, so clients looking by mDNS know to prefer the leader.
    const listening = (at: number) => {
      announcement = mdnsCode?.announceCoordinator(me(at), 'standby', log);
    };
    const standby = await pgState.standBy({ ...options, stateUrl: options.stateUrl }, id, server, service, refused, listening).catch(async (err) => {
      await announcement?.close();
      throw err;
    });
    port = standby.port;
    state = standby.state;
    steppedDown = standby.steppedDown;
  } else {
    state = { store: new StateStore(openDatabase(stateDir, { durable, log }), durable, log) };
    server.addService(wireServices().CoordinatorService.service, service.impl);
    port = await bindServer(server, formatAddress({ host, port: options.port }), security, 'coordinator', refused);
  }
  const store = state.store;
  // Deletes in the background (see state/reclaimer.ts): start-up does not wait for it.
  const purge = () => {
    const purging = store.purge(Date.now() - keepMs);
    if (purging) void store.reclaimer.idle().then(() => log(`purged ${purging} job(s) that ended more than ${formatDuration(keepMs)} ago`));
  };
  purge();
  const purgeTimer = setInterval(purge, 3_600_000).unref();
  const localRuns = new Map<string, LocalRunReader>();
  const blobs = new BlobStore(undefined, undefined, {
    dir: uploadDir(stateDir),
    quotaBytes: options.uploadQuotaBytes,
    chunks: { dir: join(stateDir, 'chunks'), capBytes: options.chunkStoreBytes },
  });
  const cluster = new Cluster(
    store,
    blobs,
    log,
    security,
    options.deadAfterMs,
    {
      defaultMs: options.defaultTimeLimitMs,
      maxMs: options.maxTimeLimitMs,
    },
    options.backupAfterMs,
    options.runsGraceMs,
  );
  await cluster.recover();
  const parts = new PartProxy(
    security,
    (jobId, partition) => {
      const result = cluster.result(jobId);
      if (!result.keyed) throw new UserError(`job ${jobId} is not a keyed job (it has no reduceByKey), so it has no parts`);
      return partLocation(jobId, partition, result.values);
    },
    cluster,
    localRuns,
  );
  service.lead(
    coordinatorService(cluster, blobs, id, {
      uploadIdleMs: options.uploadIdleMs,
      maxBlobBytes: options.maxBlobBytes,
      diskFull: () => {
        store.diskFilled();
        return store.disk.refuse();
      },
      storedBlob: (hash) => store.hasBlob(hash),
      parts,
      valueChunks: !options.stateUrl,
    }),
  );
  for (const a of agents) cluster.addAgent(a);
  if (announcement) announcement.lead();
  else announcement = mdnsCode?.announceCoordinator(me(port), 'leader', log);
  const discovery = mdnsCode && announcement && mdnsCode.startDiscovery(cluster, announcement, log);
  // A coordinator that stepped down must not be announced as the leader any more.
  void steppedDown?.then(() => discovery?.close());
  // prom-client loads only when metrics are asked for.
  const metrics =
    options.metricsPort === undefined
      ? undefined
      : await (await import('./metrics/index.js')).serveCoordinatorMetrics(cluster, options.metricsHost ?? '127.0.0.1', options.metricsPort);
  const dashboard = options.dashboard && (await startDashboard(cluster, options.dashboard, security.key, log, { stateDir, grpcPort: port }));
  return {
    id,
    steppedDown,
    dashboardUrl: dashboard?.url,
    metricsUrl: metrics && `${metrics.url}/metrics`,
    address: formatAddress({ host, port }),
    cluster,
    putBlob: (name, parts, checked) => blobs.put(name, parts, checked),
    readPart: (jobId, partition) => parts.read(jobId, partition),
    chunkFile: (hash) => (blobs.chunks?.has(hash) ? blobs.chunks.path(hash) : undefined),
    addAgent: (agent, dialWork, readRun) => {
      const at = address('coordinator', 'addAgent', agent);
      if (readRun) localRuns.set(at, readRun);
      cluster.addAgent(at, dialWork);
    },
    async close() {
      clearInterval(purgeTimer);
      await discovery?.close();
      // Scrapes during shutdown get 503 from here on, never a hang.
      const metricsClosed = Promise.all([metrics?.close(), dashboard?.close()]);
      cluster.close();
      parts.close();
      await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
      blobs.close();
      await metricsClosed;
      store.flush();
      await state.leader?.close();
      store.close();
    },
  };
}

async function startDashboard(
  cluster: Cluster,
  o: NonNullable<CoordinatorOptions['dashboard']>,
  key: Buffer | undefined,
  log: (line: string) => void,
  install: { stateDir: string; grpcPort: number },
) {
  const { serveDashboard } = await import('./dashboard/server.js');
  // The join desk (installer, release tarball, key exchange) shares the dashboard's port.
  const { installRoutes } = await import('./install/routes.js');
  try {
    return await serveDashboard(cluster, { host: o.host, port: o.port, key, log, routes: installRoutes({ key, log, ...install }) });
  } catch (err) {
    if (!o.optional) throw err;
    log(`no dashboard: ${(err as Error).message} (or leave out the \`dashboard\` option)`);
    return undefined;
  }
}

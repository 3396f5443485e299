/**
 * The coordinator daemon: a CoordinatorService gRPC server over a Cluster.
 * It binds 127.0.0.1 unless told otherwise; job state lives in memory for now.
 */
import { randomBytes } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { formatAddress, parseAddress, SERVER_OPTIONS, wireServices } from '@picompute/sdk/wire';
import { BlobStore } from './blob-store.js';
import { Cluster } from './cluster.js';
import { coordinatorService } from './service.js';

export interface CoordinatorOptions {
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** Agents to dial, `host:port` each. */
  agents?: string[];
  /** A node that sends nothing for this long is marked down; default 5 s. */
  deadAfterMs?: number;
  log?: (line: string) => void;
}

export interface Coordinator {
  readonly id: string;
  readonly address: string;
  readonly cluster: Cluster;
  addAgent(address: string): void;
  close(): Promise<void>;
}

export async function startCoordinator(options: CoordinatorOptions = {}): Promise<Coordinator> {
  const host = options.host ?? '127.0.0.1';
  const log = options.log ?? ((line: string) => console.error(`[coordinator] ${line}`));
  const agents = (options.agents ?? []).map((a) => formatAddress(parseAddress(a, '--agent')));
  const id = `coord-${randomBytes(4).toString('hex')}`;
  const blobs = new BlobStore();
  const cluster = new Cluster(blobs, log, options.deadAfterMs);
  const server = new grpc.Server(SERVER_OPTIONS);
  server.addService(wireServices().CoordinatorService.service, coordinatorService(cluster, blobs, id));
  const bindTo = formatAddress({ host, port: options.port ?? 0 });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(bindTo, grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(new Error(`coordinator cannot listen on ${bindTo}: ${err.message}`)) : resolve(p),
    ),
  );
  for (const a of agents) cluster.addAgent(a);
  return {
    id,
    address: formatAddress({ host, port }),
    cluster,
    addAgent: (address) => cluster.addAgent(formatAddress(parseAddress(address, '--agent'))),
    async close() {
      cluster.close();
      await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
    },
  };
}

/**
 * The embedded local cluster: a coordinator and one agent using every core,
 * in this process. Clients talk real gRPC to the coordinator on 127.0.0.1
 * (nothing listens on the network) with a fresh random cluster key; what
 * would be bulk copies between the parts stays in-process: the client made
 * by `connect()` hands its uploads straight to the coordinator, and the
 * coordinator's Work stream to its agent passes messages without encoding. It is what `picompute submit` uses when no coordinator is named,
 * and it is gone, state and all, when the process ends.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAgent } from '@picompute/agent';
import { startCoordinator } from '@picompute/coordinator';
import { generateKey } from '@picompute/sdk/auth';
import type { Security } from '@picompute/sdk/auth';
import { connect } from '@picompute/sdk/client';
import type { Client } from '@picompute/sdk/client';

export interface LocalCluster {
  address: string;
  /** The fresh key a client needs to talk to this cluster. */
  security: Security;
  cores: number;
  /** A client of this cluster; its uploads skip gRPC (same process). `close()` closes it too. */
  connect(): Promise<Client>;
  /** Closes the clients `connect()` made, then the cluster; removes its state. */
  close(): Promise<void>;
}

/** `taskMemoryMb`: each task's memory limit, as the agent's `--mem-per-task` (default: the agent's own). */
export async function startLocalCluster(options: { cores?: number; taskMemoryMb?: number; log?: (line: string) => void } = {}): Promise<LocalCluster> {
  const log = options.log ?? (() => {});
  const cacheDir = await mkdtemp(join(tmpdir(), 'picompute-local-'));
  const cores = options.cores ?? availableParallelism();
  const security: Security = { key: generateKey(), keySource: 'the embedded cluster' };
  const coordinator = await startCoordinator({ host: '127.0.0.1', port: 0, log, security, stateDir: join(cacheDir, 'state'), durable: false });
  // One node has no one to be faster than: no speed probe competing with the job for the cores.
  const agent = await startAgent({
    host: '127.0.0.1',
    port: 0,
    cores,
    cacheDir: join(cacheDir, 'bundles'),
    log,
    security,
    id: 'local',
    speedProbeMs: 0,
    taskMemoryMb: options.taskMemoryMb,
    localChunk: (hash) => coordinator.chunkFile(hash),
  });
  // Same process: the Work stream skips gRPC (no encoding, no copies of inputs and outputs), and so do parts on their way to a client.
  coordinator.addAgent(
    agent.address,
    () => agent.connectInProcess(),
    (jobId, runId) => agent.readRun(jobId, runId),
  );
  const clients = new Set<Client>();
  return {
    address: coordinator.address,
    security,
    cores,
    async connect() {
      const client = await connect({
        coordinator: coordinator.address,
        security,
        inProcessUpload: (name, parts, checked) => coordinator.putBlob(name, parts, checked),
        inProcessPart: (jobId, partition) => coordinator.readPart(jobId, partition),
      });
      clients.add(client);
      return client;
    },
    async close() {
      for (const client of clients) client.close();
      await coordinator.close();
      await agent.close();
      await rm(cacheDir, { recursive: true, force: true });
    },
  };
}

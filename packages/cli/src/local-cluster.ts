/**
 * The embedded local cluster: a coordinator and one agent using every core,
 * in this process. Clients talk real gRPC to the coordinator on 127.0.0.1
 * (nothing listens on the network) with a fresh random cluster key; the
 * coordinator's Work stream to its agent is in-process (same messages, no
 * encoding). It is what `picompute submit` uses when no coordinator is named,
 * and it is gone, state and all, when the process ends.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAgent } from '@picompute/agent';
import { startCoordinator } from '@picompute/coordinator';
import { generateKey } from '@picompute/sdk/auth';
import type { Security } from '@picompute/sdk/auth';

export interface LocalCluster {
  address: string;
  /** The fresh key a client needs to talk to this cluster. */
  security: Security;
  cores: number;
  close(): Promise<void>;
}

export async function startLocalCluster(options: { cores?: number; log?: (line: string) => void } = {}): Promise<LocalCluster> {
  const log = options.log ?? (() => {});
  const cacheDir = await mkdtemp(join(tmpdir(), 'picompute-local-'));
  const cores = options.cores ?? availableParallelism();
  const security: Security = { key: generateKey(), keySource: 'the embedded cluster' };
  const coordinator = await startCoordinator({ host: '127.0.0.1', port: 0, log, security, stateDir: join(cacheDir, 'state'), durable: false });
  const agent = await startAgent({ host: '127.0.0.1', port: 0, cores, cacheDir: join(cacheDir, 'bundles'), log, security, id: 'local' });
  // Same process: the Work stream skips gRPC (no encoding, no copies of inputs and outputs).
  coordinator.addAgent(agent.address, () => agent.connectInProcess());
  return {
    address: coordinator.address,
    security,
    cores,
    async close() {
      await coordinator.close();
      await agent.close();
      await rm(cacheDir, { recursive: true, force: true });
    },
  };
}

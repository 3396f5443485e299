/**
 * The embedded local cluster: a coordinator and one agent using every core,
 * in this process, talking real gRPC on 127.0.0.1 (nothing listens on the
 * network). It is what `picompute submit` uses when no coordinator is named,
 * and it is gone when the process ends.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAgent } from '@picompute/agent';
import { startCoordinator } from '@picompute/coordinator';

export interface LocalCluster {
  address: string;
  cores: number;
  close(): Promise<void>;
}

export async function startLocalCluster(options: { cores?: number; log?: (line: string) => void } = {}): Promise<LocalCluster> {
  const log = options.log ?? (() => {});
  const cacheDir = await mkdtemp(join(tmpdir(), 'picompute-local-'));
  const cores = options.cores ?? availableParallelism();
  const coordinator = await startCoordinator({ host: '127.0.0.1', port: 0, log });
  const agent = await startAgent({ host: '127.0.0.1', port: 0, cores, cacheDir, log, id: 'local' });
  coordinator.addAgent(agent.address);
  return {
    address: coordinator.address,
    cores,
    async close() {
      await coordinator.close();
      await agent.close();
      await rm(cacheDir, { recursive: true, force: true });
    },
  };
}

/**
 * A coordinator and one agent started as separate processes by the built
 * CLI, and an SDK client on the shared test key: the set-up of the tests that
 * watch what happens to the agent process itself (its memory, its children,
 * its death).
 */
import { afterAll, beforeAll } from 'vitest';
import { connect, loadSecurity } from '@picompute/sdk/client';
import type { Client } from '@picompute/sdk/client';
import { KEY_FILE, startDaemon } from './cli.js';
import type { Daemon, Env } from './cli.js';

export interface DaemonCluster {
  coordinator: Daemon;
  agent: Daemon;
  client: Client;
}

export interface DaemonClusterOptions {
  agentEnv?: Env;
  /** A command the agent's command line is handed to (a CPU cgroup's, ./cgroup.ts). */
  agentPrefix?: string[];
}

export async function startDaemonCluster(agentArgs: string[] = [], options: DaemonClusterOptions = {}): Promise<DaemonCluster & { close(): Promise<void> }> {
  const agent = await startDaemon(['agent', '--host', '127.0.0.1', '--port', '0', ...agentArgs], { env: options.agentEnv, prefix: options.agentPrefix });
  const coordinator = await startDaemon(['coordinator', '--host', '127.0.0.1', '--port', '0', '--agent', agent.address]);
  await coordinator.waitFor(/agent \S+ up at /);
  const client = await connect({ coordinator: coordinator.address, security: await loadSecurity({ keyFile: KEY_FILE }) });
  return {
    coordinator,
    agent,
    client,
    async close() {
      client.close();
      await Promise.all([coordinator.stop('SIGKILL'), agent.stop('SIGKILL')]);
    },
  };
}

/** Starts the cluster before the describe block's tests and stops it after. */
export function useDaemonCluster(agentArgs: string[] = [], options: DaemonClusterOptions = {}): DaemonCluster {
  let cluster: Awaited<ReturnType<typeof startDaemonCluster>> | undefined;
  beforeAll(async () => {
    cluster = await startDaemonCluster(agentArgs, options);
  });
  afterAll(async () => {
    await cluster?.close();
  });
  return {
    get coordinator() {
      return cluster!.coordinator;
    },
    get agent() {
      return cluster!.agent;
    },
    get client() {
      return cluster!.client;
    },
  };
}

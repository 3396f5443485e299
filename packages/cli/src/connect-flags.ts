/**
 * How every verb but `submit` finds its coordinator: --coordinator, then
 * PICOMPUTE_COORDINATOR, then one found by mDNS. (Only `submit` falls back
 * to the embedded cluster: there is no queue to show without a coordinator.)
 */
import type { Command } from 'commander';
import type { SecurityFlags } from '@picompute/sdk/auth';
import type { Client } from '@picompute/sdk/client';
import { securityFrom, withSecurityFlags } from './security-flags.js';
import { UsageError } from './errors.js';

export interface ConnectFlags extends SecurityFlags {
  coordinator?: string;
  json?: boolean;
}

export function withConnectFlags(cmd: Command): Command {
  return withSecurityFlags(
    cmd
      .option(
        '-c, --coordinator <host:port>',
        'coordinator, or several separated by commas (the one leading answers; default: PICOMPUTE_COORDINATOR, else one found by mDNS)',
      )
      .option('--json', 'print JSON instead of a table'),
  );
}

export async function connectFrom(flags: ConnectFlags): Promise<Client> {
  const { connect, locateCoordinator } = await import('@picompute/sdk/client');
  const located = await locateCoordinator(flags.coordinator);
  if (!located)
    throw new UsageError('no coordinator: pass --coordinator host:port, set PICOMPUTE_COORDINATOR, or start `picompute coordinator` on this network');
  return connect({ coordinator: located.address, source: located.source, security: await securityFrom(flags) });
}

/**
 * `submit` and `bench`: the coordinator named or found, else (unless
 * `requireCoordinator`) the embedded local cluster, started here and closed by `close()`.
 */
export async function connectOrLocal(
  flags: ConnectFlags & { local?: boolean; verbose?: boolean },
  say: (line: string) => void,
  requireCoordinator = false,
): Promise<{ client: Client; local?: import('./local-cluster.js').LocalCluster; close(): Promise<void> }> {
  const { connect, locateCoordinator } = await import('@picompute/sdk/client');
  const located = flags.local ? undefined : await locateCoordinator(flags.coordinator);
  if (located?.source === 'mDNS') say(`found a coordinator by mDNS at ${located.address}`);
  const address = located?.address;
  if (!address && requireCoordinator) {
    throw new UsageError(
      '--no-wait needs a coordinator that outlives this command (--coordinator, PICOMPUTE_COORDINATOR or one on the network); the embedded ' +
        'cluster ends with it',
    );
  }
  if (address) {
    const client = await connect({ coordinator: address, source: located?.source, security: await securityFrom(flags) });
    return { client, close: async () => client.close() };
  }
  const { startLocalCluster } = await import('./local-cluster.js');
  const local = await startLocalCluster({ log: flags.verbose ? (l) => process.stderr.write(`[local] ${l}\n`) : undefined });
  say(`${flags.local ? '--local' : 'no coordinator given or found'}: running on the embedded local cluster (${local.cores} cores, 127.0.0.1 only)`);
  return { client: await local.connect(), local, close: () => local.close() };
}

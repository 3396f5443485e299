/**
 * How every verb but `submit` finds its coordinator: --coordinator, then
 * PICOMPUTE_COORDINATOR, then one found by mDNS. (Only `submit` falls back
 * to the embedded cluster: there is no queue to show without a coordinator.)
 */
import type { Command } from 'commander';
import type { SecurityFlags } from '@picompute/sdk/auth';
import type { Client } from '@picompute/sdk/client';
import { discoverTimeoutMs, mdnsEnabled } from './mdns-flags.js';
import { securityFrom, withSecurityFlags } from './security-flags.js';
import { UsageError } from './errors.js';

export interface ConnectFlags extends SecurityFlags {
  coordinator?: string;
  json?: boolean;
}

export function withConnectFlags(cmd: Command): Command {
  return withSecurityFlags(
    cmd
      .option('-c, --coordinator <host:port>', 'coordinator (default: PICOMPUTE_COORDINATOR, else one found by mDNS)')
      .option('--json', 'print JSON instead of a table'),
  );
}

export async function connectFrom(flags: ConnectFlags): Promise<Client> {
  const { connect, findCoordinator } = await import('@picompute/sdk/client');
  let address = flags.coordinator ?? process.env.PICOMPUTE_COORDINATOR;
  if (!address && mdnsEnabled()) address = await findCoordinator(discoverTimeoutMs());
  if (!address) throw new UsageError('no coordinator: pass --coordinator host:port, set PICOMPUTE_COORDINATOR, or start `picompute coordinator` on this network');
  return connect({ coordinator: address, security: await securityFrom(flags) });
}

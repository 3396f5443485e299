/** The flags every command that talks to a cluster shares: the key and TLS. */
import type { Command } from 'commander';
import type { Security, SecurityFlags } from '@picompute/sdk/auth';
import { pathOption } from './user-path.js';

export function withSecurityFlags(cmd: Command): Command {
  return cmd
    .option('--key-file <path>', 'cluster key file (default: PICOMPUTE_KEY_FILE, PICOMPUTE_KEY, ~/.config/picompute/cluster.key)', pathOption)
    .option('--tls-cert <path>', "this node's TLS certificate (PEM); with --tls-key turns TLS on", pathOption)
    .option('--tls-key <path>', "this node's TLS private key (PEM)", pathOption)
    .option('--tls-ca <path>', 'CA that signed the peers’ certificates (PEM); on a daemon, makes TLS mutual', pathOption);
}

export async function securityFrom(flags: SecurityFlags): Promise<Security> {
  const { loadSecurity } = await import('@picompute/sdk/auth');
  return loadSecurity(flags);
}

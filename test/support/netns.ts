/**
 * What every test on network-namespace hosts (test/netns/cluster.sh) shares:
 * whether this machine can make them, the environment that turns mDNS on
 * (multicast never leaves the test hosts' own bridge), and cluster.sh itself.
 */
import { execFileSync } from 'node:child_process';
import { CLUSTER_SH } from './cli.js';
import type { Env } from './cli.js';

/** mDNS on, and the hosts tagged with this process so `cluster.sh gc` knows whose they are. */
export const ON_NET: Env = { PICOMPUTE_MDNS: 'on', PICOMPUTE_NETNS_OWNER: String(process.pid) };

/** Why this machine cannot make test hosts (no root, no `ip`, …), or undefined when it can. */
export function netnsProblem(): string | undefined {
  try {
    execFileSync('bash', [CLUSTER_SH, 'check'], { stdio: 'pipe' });
    return undefined;
  } catch (err) {
    return String((err as { stderr?: Buffer }).stderr ?? err).trim();
  }
}

/** Runs `cluster.sh ARGS…` and returns what it printed. */
export const sh = (...args: string[]): string => execFileSync('bash', [CLUSTER_SH, ...args], { stdio: 'pipe', env: { ...process.env, ...ON_NET } }).toString();

/**
 * `picompute join-command`: the one line that installs and joins a node
 * (run on the coordinator, or anywhere with the cluster key), and
 * `picompute join`: the node's half of the key exchange, which that line's
 * installer runs (see @picompute/sdk/auth's join.ts for the protocol).
 */
import type { Command } from 'commander';
import { action, parseCount, UsageError } from '../errors.js';
import { pathOption } from '../user-path.js';

const DASHBOARD_PORT = 7702;

interface JoinCommandFlags {
  address?: string;
  uses: string;
  ttl: string;
  keyFile?: string;
}

interface JoinFlags {
  url: string;
  token: string;
  keyOut: string;
}

export function registerJoin(program: Command): void {
  program
    .command('join-command')
    .description('print the line that installs picompute on a new node and joins it to this cluster')
    .option(
      '--address <host[:port]>',
      `the coordinator's dashboard address as new nodes reach it (default: this machine's first LAN address, port ${DASHBOARD_PORT})`,
    )
    .option('--uses <n>', 'how many nodes may join with the line', '1')
    .option('--ttl <duration>', 'how long the line stays good', '24h')
    .option('--key-file <path>', 'cluster key file (default: PICOMPUTE_KEY_FILE, PICOMPUTE_KEY, ~/.config/picompute/cluster.key)', pathOption)
    .action(action(joinCommand));
  program
    .command('join')
    .description("fetch the cluster key from a coordinator with a join token, after checking the coordinator against the token's pin")
    .requiredOption('--url <url>', "the coordinator's dashboard URL, http://host:port")
    .requiredOption('--token <token>', 'the PC1… token of `picompute join-command`')
    .requiredOption('--key-out <path>', 'where to write the cluster key (mode 600; must not exist)', pathOption)
    .action(action(join));
}

async function lanAddress(): Promise<string> {
  const { networkInterfaces, hostname } = await import('node:os');
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  return hostname();
}

async function joinCommand(flags: JoinCommandFlags): Promise<void> {
  const { loadClusterKey, makeJoinToken } = await import('@picompute/sdk/auth');
  const { parseDuration } = await import('@picompute/sdk/units');
  const found = await loadClusterKey({ keyFile: flags.keyFile });
  if (!found) throw new UsageError('join-command needs the cluster key (it makes the token from it): run it on the coordinator, or pass --key-file');
  const uses = parseCount(flags.uses, '--uses');
  if (uses > 255) throw new UsageError(`--uses ${uses}: at most 255 nodes per line; print another line for more`);
  const ttlMs = parseDuration(flags.ttl, '--ttl');
  if (ttlMs < 60_000) throw new UsageError(`--ttl ${flags.ttl}: a line must stay good for at least a minute`);
  let address = flags.address ?? (await lanAddress());
  if (!/:\d+$/.test(address) || /^[^[].*:.*:/.test(address)) address = `${address}:${DASHBOARD_PORT}`;
  const token = makeJoinToken(found.key, { ttlMs, uses });
  process.stdout.write(`curl -sfL http://${address}/install.sh | sh -s -- --token ${token}\n`);
  process.stderr.write(`Run it on each new node as root (${uses} node${uses > 1 ? 's' : ''}, within ${flags.ttl}).\n`);
  // The line is only as good as the address in it: say now if nothing serves the installer there.
  const why = await fetch(`http://${address}/install/version`, { signal: AbortSignal.timeout(3000) }).then(
    (r) => (r.ok ? undefined : `it answered ${r.status}`),
    (err: Error) => (err.cause as Error | undefined)?.message ?? err.message,
  );
  if (why)
    process.stderr.write(
      `Warning: no coordinator serves the installer at http://${address} (${why}). Start it with --dashboard-host 0.0.0.0 ` +
        '(the installer and the key exchange share the dashboard port), or name its address with --address.\n',
    );
}

async function join(flags: JoinFlags): Promise<void> {
  const { fetchClusterKey } = await import('@picompute/sdk/auth');
  const { writeFile } = await import('node:fs/promises');
  if (!/^https?:\/\//.test(flags.url)) throw new UsageError(`--url ${flags.url}: give the coordinator's dashboard URL, http://host:port`);
  const { key, pin } = await fetchClusterKey(flags.url, flags.token);
  try {
    await writeFile(flags.keyOut, `${key.toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new UsageError(`--key-out ${flags.keyOut} exists: the join writes a new file only`);
    throw err;
  }
  process.stdout.write(`verified the coordinator at ${flags.url} (cluster ${pin}); cluster key written to ${flags.keyOut}\n`);
}

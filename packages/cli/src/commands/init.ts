/** `picompute init`: make the cluster key (and, with --tls, a small CA and node certificates). */
import type { Command } from 'commander';
import { action, collect } from '../errors.js';
import { pathOption } from '../user-path.js';

interface InitFlags {
  keyFile?: string;
  force?: boolean;
  tls?: boolean;
  node: string[];
  tlsDir?: string;
}

export function registerInit(program: Command): void {
  program
    .command('init')
    .description('make a new cluster key (and with --tls, a CA and a certificate per node)')
    .option('--key-file <path>', 'where to write the key (default ~/.config/picompute/cluster.key)', pathOption)
    .option('--force', 'replace an existing key (every node must then get the new one)')
    .option('--tls', 'also make a CA and a certificate for each --node')
    .option('--node <name>', 'a node name (host name or IP) to make a certificate for; repeatable', collect, [])
    .option('--tls-dir <dir>', 'where to write the CA and certificates (default: beside the key, in tls/)', pathOption)
    .action(action(init));
}

async function init(flags: InitFlags): Promise<void> {
  const { defaultKeyFile, writeNewKey } = await import('@picompute/sdk/auth');
  const { dirname, join } = await import('node:path');
  const path = flags.keyFile ?? process.env.PICOMPUTE_KEY_FILE ?? defaultKeyFile();
  await writeNewKey(path, { force: flags.force });
  const out = (line = '') => process.stdout.write(`${line}\n`);
  out(`cluster key written to ${path} (mode 600, 256 random bits)`);
  out();
  out('Copy it to every node at the same path, readable only by the user that runs picompute, e.g.:');
  out(`  ssh pi@NODE 'mkdir -p -m 700 ${dirname(path)}' && scp -p ${path} pi@NODE:${path}`);
  out('Or point each daemon and client at it with --key-file PATH or PICOMPUTE_KEY_FILE=PATH.');
  if (flags.tls) {
    const { makeTlsFiles } = await import('../tls-files.js');
    const dir = flags.tlsDir ?? join(dirname(path), 'tls');
    const nodes = flags.node.length ? flags.node : [(await import('node:os')).hostname()];
    const written = await makeTlsFiles(dir, nodes);
    out();
    out(`TLS: a CA and certificates for ${[...new Set([...nodes, 'client'])].join(', ')} in ${dir}:`);
    for (const w of written) out(`  ${w}`);
    out('On each node: --tls-cert NODE.crt --tls-key NODE.key --tls-ca ca.crt (clients too, with their own certificate or just --tls-ca).');
  }
}

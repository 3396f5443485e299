/**
 * The cluster key: 256 random bits that every agent, coordinator and client
 * of one cluster shares (the role munge's key plays for Slurm). Stored as 64
 * hex characters in a file only its owner can read.
 *
 * Where a process finds it, first hit wins: `--key-file`, PICOMPUTE_KEY_FILE,
 * PICOMPUTE_KEY (the hex itself), $CREDENTIALS_DIRECTORY/cluster.key (systemd
 * LoadCredential=), then the default file, ~/.config/picompute/cluster.key.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

export const KEY_BYTES = 32;

export class KeyError extends Error {
  override name = 'KeyError';
}

export interface ClusterKey {
  key: Buffer;
  /** Where it came from, for messages (never the key itself). */
  source: string;
}

export function defaultKeyFile(env: NodeJS.ProcessEnv = process.env): string {
  const config = env.XDG_CONFIG_HOME || join(homedir(), '.config');
  return join(config, 'picompute', 'cluster.key');
}

export function generateKey(): Buffer {
  return randomBytes(KEY_BYTES);
}

export function parseKey(text: string, source: string): Buffer {
  const hex = text.trim();
  if (!/^[0-9a-f]{64}$/i.test(hex)) throw new KeyError(`${source} does not hold a picompute cluster key (64 hex characters); make one with \`picompute init\``);
  return Buffer.from(hex, 'hex');
}

async function readKeyFile(path: string, source: string, { mustExist }: { mustExist: boolean }): Promise<ClusterKey | undefined> {
  const info = await stat(path).catch(() => undefined);
  if (!info) {
    if (mustExist) throw new KeyError(`${source} ${path} does not exist; make a key with \`picompute init\` or copy the cluster's key there`);
    return undefined;
  }
  // Like ssh with its private keys: a key others can read is no secret.
  if ((info.mode & 0o077) !== 0) {
    throw new KeyError(`cluster key file ${path} can be read by other users (mode ${(info.mode & 0o777).toString(8)}); run: chmod 600 ${path}`);
  }
  const text = await readFile(path, 'utf8').catch((err: Error) => {
    throw new KeyError(`cannot read cluster key file ${path}: ${err.message}`);
  });
  return { key: parseKey(text, `cluster key file ${path}`), source: path };
}

/** Finds the cluster key, or undefined when there is none anywhere. Throws KeyError for a key that is there but unusable. */
export async function loadClusterKey(options: { keyFile?: string; env?: NodeJS.ProcessEnv } = {}): Promise<ClusterKey | undefined> {
  const env = options.env ?? process.env;
  if (options.keyFile) return readKeyFile(options.keyFile, '`keyFile`', { mustExist: true });
  if (env.PICOMPUTE_KEY_FILE) return readKeyFile(env.PICOMPUTE_KEY_FILE, 'PICOMPUTE_KEY_FILE', { mustExist: true });
  if (env.PICOMPUTE_KEY) return { key: parseKey(env.PICOMPUTE_KEY, 'PICOMPUTE_KEY'), source: 'PICOMPUTE_KEY' };
  if (env.CREDENTIALS_DIRECTORY) {
    const found = await readKeyFile(join(env.CREDENTIALS_DIRECTORY, 'cluster.key'), 'systemd credential', { mustExist: false });
    if (found) return found;
  }
  return readKeyFile(defaultKeyFile(env), 'default key file', { mustExist: false });
}

/** Writes a new key readable only by its owner; refuses to replace one unless `force`. */
export async function writeNewKey(path: string, { force = false } = {}): Promise<void> {
  if (!force && (await stat(path).catch(() => undefined))) {
    throw new KeyError(`${path} already exists; keep it (every node must share the same key), or pass \`force\` to replace it`);
  }
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await writeFile(path, `${generateKey().toString('hex')}\n`, { mode: 0o600 });
  await chmod(path, 0o600);
}

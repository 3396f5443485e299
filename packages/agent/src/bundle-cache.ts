/**
 * The agent's on-disk cache of job bundles, named by their SHA-256. A bundle
 * arrives once over the Work stream and is checked against its name before it
 * is written; every later job with the same code starts from disk, once its
 * bytes there are checked against the name again (the folder must be the
 * agent user's alone, see @picompute/sdk's writeBundleFile).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sha256, writeBundleFile } from '@picompute/sdk/bundle';

export class BundleCache {
  readonly #pending = new Map<string, Promise<string>>();

  constructor(readonly dir: string) {}

  path(hash: string): string {
    return join(this.dir, `${hash}.mjs`);
  }

  /** The bundle's path, fetching it with `fetch` if it is not on disk yet (once, however many ask). */
  ensure(hash: string, fetch: () => Promise<Buffer>): Promise<string> {
    let pending = this.#pending.get(hash);
    if (!pending) {
      pending = this.#ensure(hash, fetch);
      this.#pending.set(hash, pending);
      pending.catch(() => this.#pending.delete(hash));
    }
    return pending;
  }

  async #ensure(hash: string, fetch: () => Promise<Buffer>): Promise<string> {
    if (!/^[0-9a-f]{64}$/.test(hash)) throw new Error(`bundle name "${hash}" is not a sha256 hash`);
    const onDisk = await readFile(this.path(hash)).catch(() => undefined);
    if (onDisk && sha256(onDisk) === hash) return writeBundleFile(onDisk, hash, this.dir);
    const code = await fetch();
    const actual = sha256(code);
    if (actual !== hash) throw new Error(`bundle ${hash.slice(0, 12)} arrived with sha256 ${actual.slice(0, 12)}: refused`);
    return writeBundleFile(code, hash, this.dir);
  }
}

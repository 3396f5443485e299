/**
 * The agent's on-disk cache of job bundles, named by their SHA-256. A bundle
 * arrives once over the Work stream and is checked against its name before it
 * is written; every later job with the same code starts from disk.
 */
import { mkdir, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sha256, writeBundleFile } from '@picompute/sdk/bundle';

/** A job's code, or the value of its `shared(args)` (ctx.shared). */
export type BlobKind = 'bundle' | 'shared';

export class BundleCache {
  readonly #pending = new Map<string, Promise<string>>();

  constructor(readonly dir: string) {}

  path(hash: string, kind: BlobKind = 'bundle'): string {
    return join(this.dir, `${hash}${kind === 'bundle' ? '.mjs' : '.shared'}`);
  }

  /**
   * The bundle's (or a job's shared value's) path, fetching it with `fetch`
   * if it is not on disk yet (once, however many ask).
   */
  ensure(hash: string, fetch: () => Promise<Buffer>, kind: BlobKind = 'bundle'): Promise<string> {
    let pending = this.#pending.get(this.path(hash, kind));
    if (!pending) {
      pending = this.#ensure(hash, fetch, kind);
      this.#pending.set(this.path(hash, kind), pending);
      pending.catch(() => this.#pending.delete(this.path(hash, kind)));
    }
    return pending;
  }

  async #ensure(hash: string, fetch: () => Promise<Buffer>, kind: BlobKind): Promise<string> {
    if (!/^[0-9a-f]{64}$/.test(hash)) throw new Error(`${kind} name "${hash}" is not a sha256 hash`);
    const path = this.path(hash, kind);
    if (await stat(path).catch(() => undefined)) return path;
    const bytes = await fetch();
    const actual = sha256(bytes);
    if (actual !== hash) throw new Error(`${kind} ${hash.slice(0, 12)} arrived with sha256 ${actual.slice(0, 12)}: refused`);
    if (kind === 'bundle') return writeBundleFile(bytes, hash, this.dir);
    // Written whole, then renamed: a worker never reads half a file.
    await mkdir(this.dir, { recursive: true });
    await writeFile(`${path}.${process.pid}.tmp`, bytes);
    await rename(`${path}.${process.pid}.tmp`, path);
    return path;
  }
}

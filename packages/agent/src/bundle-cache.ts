/**
 * The agent's on-disk cache of job bundles, named by their SHA-256. A bundle
 * arrives once over the Work stream and is checked against its name before it
 * is written; every later job with the same code starts from disk, once its
 * bytes there are checked against the name again (the folder must be the
 * agent user's alone, see @picompute/sdk's writeBundleFile).
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
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
    // What is on disk is used only if it still matches its name.
    const onDisk = await readFile(path).catch(() => undefined);
    if (onDisk && sha256(onDisk) === hash) return kind === 'bundle' ? writeBundleFile(onDisk, hash, this.dir) : path;
    const bytes = await fetch();
    const actual = sha256(bytes);
    if (actual !== hash) throw new Error(`${kind} ${hash.slice(0, 12)} arrived with sha256 ${actual.slice(0, 12)}: refused`);
    if (kind === 'bundle') return writeBundleFile(bytes, hash, this.dir);
    // Written whole, then renamed: a worker never reads half a file.
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    await writeFile(`${path}.${process.pid}.tmp`, bytes, { mode: 0o600 });
    await rename(`${path}.${process.pid}.tmp`, path);
    return path;
  }
}

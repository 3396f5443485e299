/**
 * The agent's on-disk cache of input chunks (@picompute/sdk/chunk-ref),
 * files named by the sha256 of their bytes in a 0700 folder of this agent's
 * own. A map task whose input is a chunk reference gets its chunk from here;
 * a chunk not here is fetched from the coordinator over the Work stream
 * (once, however many tasks ask at the same time), written to a temporary
 * file as its pieces arrive, checked against its name and renamed into
 * place, so the worker reads a whole, checked file.
 *
 * The cache holds up to `capBytes`, least recently used chunks dropped
 * first; a chunk a task is using is pinned and never dropped under it (the
 * cache may then stand over its cap until the task ends). Kept across
 * restarts: the files are checked by their names when the agent starts.
 *
 * An agent in the coordinator's own process (the embedded cluster) links the
 * coordinator's file instead (`local`): the store checked those bytes
 * against their name as they arrived, the two folders share a file system,
 * and a copy would write, read and hash every input byte once more (1 GiB
 * of W8's input each time). A link that cannot be made (another file system,
 * a chunk the store has just dropped) falls back to the fetch.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { link, rename, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { isChunkHash } from '@picompute/sdk/chunk-ref';

/** Default cache size: a few jobs' inputs on a Pi, well under its card. */
export const DEFAULT_CHUNK_CACHE_BYTES = 1024 ** 3;

/** Fetches a chunk: calls `piece` with each piece as it arrives, resolves when the last one did. */
export type ChunkFetch = (piece: (data: Buffer) => void) => Promise<void>;

export class ChunkCache {
  /** Sizes, least recently used first. */
  readonly #chunks = new Map<string, number>();
  readonly #pins = new Map<string, number>();
  readonly #fetching = new Map<string, Promise<void>>();
  #bytes = 0;
  /** Chunks fetched from the coordinator since start, chunks linked from its store (same process), and tasks that found theirs here. */
  fetches = 0;
  links = 0;
  hits = 0;

  constructor(
    readonly dir: string,
    readonly capBytes = DEFAULT_CHUNK_CACHE_BYTES,
    private readonly fetched: (hash: string, bytes: number) => void = () => {},
    private readonly local?: (hash: string) => string | undefined,
  ) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (!isChunkHash(name)) rmSync(path, { force: true });
      else this.#add(name, statSync(path).size);
    }
    this.#evict();
  }

  get bytes(): number {
    return this.#bytes;
  }

  path(hash: string): string {
    return join(this.dir, hash);
  }

  /** The chunk is on disk (fetched with `fetch` if it was not) and pinned until `release`. */
  async acquire(hash: string, fetch: ChunkFetch): Promise<string> {
    if (!isChunkHash(hash)) throw new Error(`input chunk name "${hash.slice(0, 80)}" is not a sha256 hash`);
    this.#pins.set(hash, (this.#pins.get(hash) ?? 0) + 1);
    try {
      if (this.#chunks.has(hash)) {
        this.hits++;
        this.#touch(hash);
      } else {
        let pending = this.#fetching.get(hash);
        if (!pending) {
          pending = this.#fetch(hash, fetch).finally(() => this.#fetching.delete(hash));
          this.#fetching.set(hash, pending);
        } else this.hits++;
        await pending;
      }
      return this.path(hash);
    } catch (err) {
      this.release(hash);
      throw err;
    }
  }

  release(hash: string): void {
    const n = (this.#pins.get(hash) ?? 0) - 1;
    if (n > 0) this.#pins.set(hash, n);
    else this.#pins.delete(hash);
    this.#evict();
  }

  async #fetch(hash: string, fetch: ChunkFetch): Promise<void> {
    if (await this.#link(hash)) return;
    const temp = this.#temp(hash);
    const out = createWriteStream(temp, { mode: 0o600, flags: 'wx' });
    let writeError: Error | undefined;
    out.on('error', (err) => (writeError ??= err));
    const digest = createHash('sha256');
    let size = 0;
    try {
      await fetch((data) => {
        digest.update(data);
        size += data.length;
        out.write(data);
      });
      await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err || writeError ? reject(err || writeError) : resolve())));
      const actual = digest.digest('hex');
      if (actual !== hash) throw new Error(`input chunk ${hash.slice(0, 12)}… arrived with sha256 ${actual.slice(0, 12)}…: refused`);
      await rename(temp, this.path(hash));
    } catch (err) {
      out.destroy();
      rmSync(temp, { force: true });
      throw err;
    }
    this.fetches++;
    this.fetched(hash, size);
    this.#landed(hash, size);
  }

  /** The coordinator's own file for the chunk, linked in (same process, same file system); false when that cannot be. */
  async #link(hash: string): Promise<boolean> {
    const from = this.local?.(hash);
    if (!from) return false;
    const temp = this.#temp(hash);
    try {
      await link(from, temp);
      const { size } = await stat(temp);
      await rename(temp, this.path(hash));
      this.links++;
      this.#landed(hash, size);
      return true;
    } catch {
      rmSync(temp, { force: true });
      return false;
    }
  }

  /** A chunk now in place (fetched or linked): counted, and the least recently used pushed out past the cap. */
  #landed(hash: string, size: number): void {
    this.#add(hash, size);
    this.#evict();
  }

  #temp(hash: string): string {
    return join(this.dir, `${hash}.${randomBytes(6).toString('hex')}.tmp`);
  }

  #add(hash: string, size: number): void {
    if (this.#chunks.has(hash)) return;
    this.#chunks.set(hash, size);
    this.#bytes += size;
  }

  #touch(hash: string): void {
    const size = this.#chunks.get(hash)!;
    this.#chunks.delete(hash);
    this.#chunks.set(hash, size);
  }

  #evict(): void {
    if (this.#bytes <= this.capBytes) return;
    for (const [hash, size] of [...this.#chunks]) {
      if (this.#bytes <= this.capBytes) return;
      if (this.#pins.has(hash)) continue;
      this.#chunks.delete(hash);
      this.#bytes -= size;
      rmSync(this.path(hash), { force: true });
    }
  }
}

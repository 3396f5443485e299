/**
 * The coordinator's store of input chunks (see @picompute/sdk/chunk-ref):
 * files under `<stateDir>/chunks`, each named by the sha256 of its bytes,
 * mode 0600 in a 0700 folder like the upload spill. A chunk arrives by
 * PutBlob `chunk:<sha256>`, written to a temporary file as it comes (never
 * whole in memory), checked against its name, then renamed into place.
 *
 * Chunks outlive the job that brought them, across restarts too, so a second
 * submit of the same files sends nothing (the client asks with HasChunks
 * first); a restarted coordinator's jobs find theirs here. A chunk a live
 * job references is pinned and stays; the others are kept for reuse up to
 * `capBytes` in all, least recently used dropped first. Bytes on their way in
 * count against the sender's upload quota, like a spilled upload.
 */
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, createReadStream, createWriteStream, existsSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { isChunkHash } from '@picompute/sdk/chunk-ref';
import type { Receiver } from './blob-store.js';
import type { UploadQuota } from './upload-spill.js';

/** How long a chunk a client was told is here stays, pinned or not. */
const PROMISE_MS = 60_000;

export class ChunkStore {
  /** Size of each chunk held, in least-recently-used order (a use moves it to the end). */
  readonly #chunks = new Map<string, number>();
  readonly #pins = new Map<string, number>();
  /** Chunks a client was told are here (HasChunks), until when: its submit, which pins them, is on its way. */
  readonly #promised = new Map<string, number>();
  #bytes = 0;
  /** Chunk bytes received since start (for tests and metrics: a second submit of the same files adds none). */
  receivedBytes = 0;
  /** Told of each chunk as it lands (the cluster starts the maps that wait for it). */
  onArrived: (hash: string) => void = () => {};

  constructor(
    readonly dir: string,
    /** What chunks no live job references may hold in all, bytes. */
    readonly capBytes: number,
    private readonly quota: UploadQuota,
  ) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      // Half-received chunks of a process that died: nobody finishes them.
      if (!isChunkHash(name)) rmSync(path, { force: true });
      else this.#add(name, statSync(path).size);
    }
  }

  get bytes(): number {
    return this.#bytes;
  }

  get count(): number {
    return this.#chunks.size;
  }

  has(hash: string): boolean {
    return this.#chunks.has(hash);
  }

  /**
   * Of these hashes, those not here (HasChunks). The others are kept for
   * PROMISE_MS whatever the cap: the client will not send them, and its
   * submit, which pins them, comes right after.
   */
  missing(hashes: readonly string[], now = Date.now()): string[] {
    const missing: string[] = [];
    for (const h of hashes) {
      if (!this.#chunks.has(h)) missing.push(h);
      else this.#promised.set(h, now + PROMISE_MS), this.#touch(h);
    }
    return missing;
  }

  path(hash: string): string {
    return join(this.dir, hash);
  }

  /** A chunk is in use (a job references it): kept whatever the cap, until unpinned as often. */
  pin(hash: string): void {
    this.#pins.set(hash, (this.#pins.get(hash) ?? 0) + 1);
    this.#touch(hash);
  }

  unpin(hash: string): void {
    const n = (this.#pins.get(hash) ?? 0) - 1;
    if (n > 0) this.#pins.set(hash, n);
    else this.#pins.delete(hash);
    this.#evict();
  }

  /** A chunk whose file is gone or unreadable (someone removed it): forgotten, so the next submit sends it again. */
  forget(hash: string): void {
    const size = this.#chunks.get(hash);
    if (size === undefined) return;
    this.#chunks.delete(hash);
    this.#bytes -= size;
    rmSync(this.path(hash), { force: true });
  }

  /**
   * A chunk's file could not be read (removed by hand): it and every other
   * chunk whose file is gone are forgotten, so the next submit sends them again.
   */
  lost(hash: string): void {
    this.forget(hash);
    for (const h of [...this.#chunks.keys()]) if (!existsSync(this.path(h))) this.forget(h);
  }

  /** The chunk's bytes, a piece at a time (an agent fetches it). */
  read(hash: string, pieceBytes: number): AsyncIterable<Buffer> {
    this.#touch(hash);
    return createReadStream(this.path(hash), { highWaterMark: pieceBytes });
  }

  /** A PutBlob of `chunk:<hash>` from `user`; `onError` hears of a failed write (a full disk). */
  receive(hash: string, user: string, onError: (err: Error) => void): Receiver {
    if (!isChunkHash(hash)) throw new Error(`chunk name "${hash.slice(0, 80)}" is not a sha256 hash`);
    const temp = join(this.dir, `${hash}.${randomBytes(6).toString('hex')}.tmp`);
    const file = createWriteStream(temp, { mode: 0o600, flags: 'wx' });
    const digest = createHash('sha256');
    let bytes = 0;
    let error: Error | undefined;
    file.on('error', (err) => {
      error ??= err;
      onError(err);
    });
    const drop = () => {
      file.destroy();
      rmSync(temp, { force: true });
      this.quota.release(user, bytes);
      bytes = 0;
    };
    return {
      write: (data) => {
        this.quota.add(user, data.length);
        bytes += data.length;
        digest.update(data);
        return file.write(data);
      },
      onDrain: (fn) => file.once('drain', fn),
      finish: async () => {
        await new Promise<void>((resolve, reject) => (error ? reject(error) : file.end(() => (error ? reject(error) : resolve()))));
        const actual = digest.digest('hex');
        if (actual !== hash) {
          drop();
          throw new Error(`chunk named ${hash.slice(0, 12)}… has sha256 ${actual.slice(0, 12)}…: refused`);
        }
        const size = bytes;
        this.quota.release(user, bytes);
        bytes = 0;
        this.receivedBytes += size;
        // Two clients sending the same chunk at once: the second rename replaces identical bytes.
        renameSync(temp, this.path(hash));
        this.#landed(hash, size);
      },
      abort: drop,
    };
  }

  /**
   * A chunk handed over in-process (the embedded cluster's client): written
   * as it is. `checked`: the client hashed these very bytes to `hash` as it
   * read them again from their file (its chunkPieces), so hashing them once
   * more here (a third pass over every input byte) is skipped.
   */
  put(hash: string, parts: Buffer[], checked = false): void {
    if (!isChunkHash(hash)) throw new Error(`chunk name "${hash.slice(0, 80)}" is not a sha256 hash`);
    if (!checked) {
      const digest = createHash('sha256');
      for (const p of parts) digest.update(p);
      const actual = digest.digest('hex');
      if (actual !== hash) throw new Error(`chunk named ${hash.slice(0, 12)}… has sha256 ${actual.slice(0, 12)}…: refused`);
    }
    const size = parts.reduce((n, p) => n + p.length, 0);
    const temp = join(this.dir, `${hash}.${randomBytes(6).toString('hex')}.tmp`);
    const fd = openSync(temp, 'wx', 0o600);
    try {
      for (const p of parts) writeSync(fd, p);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, this.path(hash));
    this.receivedBytes += size;
    this.#landed(hash, size);
  }

  #landed(hash: string, size: number): void {
    if (!this.#chunks.has(hash)) this.#add(hash, size);
    this.#touch(hash);
    this.onArrived(hash);
    this.#evict();
  }

  #add(hash: string, size: number): void {
    this.#chunks.set(hash, size);
    this.#bytes += size;
  }

  #touch(hash: string): void {
    const size = this.#chunks.get(hash);
    if (size === undefined) return;
    this.#chunks.delete(hash);
    this.#chunks.set(hash, size);
  }

  /** Drops unpinned chunks, least recently used first, while the store is over its cap. */
  #evict(): void {
    if (this.#bytes <= this.capBytes) return;
    const now = Date.now();
    for (const [h, until] of this.#promised) if (until <= now) this.#promised.delete(h);
    for (const hash of [...this.#chunks.keys()]) {
      if (this.#bytes <= this.capBytes) return;
      if (!this.#pins.has(hash) && !this.#promised.has(hash)) this.forget(hash);
    }
  }
}

/**
 * Blobs uploaded for jobs, kept until a Submit takes them. A job
 * bundle is content-addressed: named by its SHA-256 (agents cache and check it
 * by that name), and bytes that do not match the name are refused. Packed
 * inputs are used once, so they go up under an `upload:<random>` name and are
 * not hashed (that would cost two passes over what may be many MB). An
 * upload no Submit takes within `uploadTtlMs` (its client died in between)
 * is dropped, so abandoned inputs do not pile up.
 *
 * Where they are kept: uploads streamed over PutBlob go to files under the
 * state dir and count against a per-user quota (./upload-spill.ts); bundles,
 * and blobs handed over in-process by the embedded cluster (whose client
 * holds them in the same memory anyway), stay in memory. Input chunks
 * (`chunk:<sha256>`) go to the chunk store on disk (./chunk-store.ts).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sha256 } from '@picompute/sdk/bundle';
import { CHUNK_BLOB_PREFIX } from '@picompute/sdk/chunk-ref';
import { ChunkStore } from './chunk-store.js';
import { SpilledUpload, UploadQuota } from './upload-spill.js';

export interface SpillOptions {
  /** A directory of this process's own (see uploadDir). */
  dir: string;
  /** What one user's waiting uploads may hold, bytes. */
  quotaBytes: number;
  /** Where input chunks are kept, and what those no live job references may hold in all (see ./chunk-store.ts). */
  chunks?: { dir: string; capBytes: number };
}

/** One streamed PutBlob on its way in. */
export interface Receiver {
  /** False when the sender should wait for `onDrain`; throws when the upload must be refused. */
  write(data: Buffer): boolean;
  onDrain(fn: () => void): void;
  /** Stores what arrived (a bundle's bytes must match its name). */
  finish(): Promise<void>;
  /** Forgets a refused or broken upload. */
  abort(): void;
}

interface Waiting {
  parts?: Buffer[];
  file?: SpilledUpload;
  at: number;
}

const UPLOAD_NAME = /^upload:[\w-]{16,64}$/;

export class BlobStore {
  readonly #blobs = new Map<string, Buffer>();
  /** One-time uploads, as the chunks they arrived in (framing splits them without a copy) or as a file, oldest first. */
  readonly #uploads = new Map<string, Waiting>();
  readonly #quota: UploadQuota | undefined;
  readonly #sweep: NodeJS.Timeout | undefined;
  /** Input chunks, when the store spills to disk (the coordinator's always does). */
  readonly chunks: ChunkStore | undefined;

  constructor(
    private readonly uploadTtlMs = 10 * 60_000,
    private readonly now: () => number = Date.now,
    private readonly spill?: SpillOptions,
  ) {
    if (spill) {
      this.#quota = new UploadQuota(spill.quotaBytes);
      if (spill.chunks) this.chunks = new ChunkStore(spill.chunks.dir, spill.chunks.capBytes, this.#quota);
      // Not only at the next upload: the last one a dead client sent must go too.
      this.#sweep = setInterval(() => this.#dropAbandoned(), Math.min(uploadTtlMs, 60_000)).unref();
    }
  }

  /** Starts a PutBlob from `user`; `onError` hears of a failed write to disk (a full disk, say). */
  receive(name: string, user: string, onError: (err: Error) => void): Receiver {
    if (name.startsWith(CHUNK_BLOB_PREFIX)) return this.#chunkStore().receive(name.slice(CHUNK_BLOB_PREFIX.length), user, onError);
    if (!this.spill || !UPLOAD_NAME.test(name)) {
      const parts: Buffer[] = [];
      return {
        write: (data) => (parts.push(data), true),
        onDrain: () => {},
        finish: async () => this.put(name, parts),
        abort: () => (parts.length = 0),
      };
    }
    const file = new SpilledUpload(join(this.spill.dir, name.slice('upload:'.length)), user, this.#quota!, onError);
    return {
      write: (data) => file.write(data),
      onDrain: (fn) => file.onDrain(fn),
      finish: async () => {
        await file.end();
        this.#dropAbandoned();
        this.#uploads.set(name, { file, at: this.now() });
      },
      abort: () => file.discard(),
    };
  }

  /** Bytes `user`'s uploads hold on disk now (those on their way in included). */
  heldBy(user: string): number {
    return this.#quota?.held(user) ?? 0;
  }

  close(): void {
    clearInterval(this.#sweep);
    for (const name of [...this.#uploads.keys()]) this.#forget(name);
  }

  /**
   * Stores what arrived under `name`; a content-addressed name must match
   * the bytes. `checked`: an input chunk a client in this process has just
   * hashed to its name (see ChunkStore.put).
   */
  put(name: string, parts: Buffer[], checked = false): void {
    if (name.startsWith(CHUNK_BLOB_PREFIX)) {
      this.#chunkStore().put(name.slice(CHUNK_BLOB_PREFIX.length), parts, checked);
      return;
    }
    if (UPLOAD_NAME.test(name)) {
      this.#dropAbandoned();
      this.#uploads.set(name, { parts, at: this.now() });
      return;
    }
    const bytes = Buffer.concat(parts);
    const actual = sha256(bytes);
    if (actual !== name) throw new Error(`blob named ${name.slice(0, 12)}… has sha256 ${actual.slice(0, 12)}…: refused`);
    this.#blobs.set(name, bytes);
  }

  #chunkStore(): ChunkStore {
    if (!this.chunks) throw new Error('this coordinator keeps no input chunks (it has no state dir to keep them in)');
    return this.chunks;
  }

  get(hash: string): Buffer | undefined {
    return this.#blobs.get(hash);
  }

  /** Forgets a bundle once the state database holds it. */
  delete(hash: string): void {
    this.#blobs.delete(hash);
  }

  /** Hands over a one-time upload (it is gone from the store after). */
  take(name: string): Buffer[] | undefined {
    const upload = this.#uploads.get(name);
    if (!upload) return undefined;
    const parts = upload.file ? [readFileSync(upload.file.path)] : upload.parts;
    this.#forget(name);
    return parts;
  }

  /** Uploads waiting for their Submit, and their bytes. */
  get waiting(): { uploads: number; bytes: number } {
    let bytes = 0;
    for (const { parts, file } of this.#uploads.values()) bytes += file ? file.bytes : parts!.reduce((n, p) => n + p.length, 0);
    return { uploads: this.#uploads.size, bytes };
  }

  #dropAbandoned(): void {
    const before = this.now() - this.uploadTtlMs;
    // Insertion order is arrival order: stop at the first upload still in time.
    for (const [name, { at }] of this.#uploads) {
      if (at > before) break;
      this.#forget(name);
    }
  }

  #forget(name: string): void {
    this.#uploads.get(name)?.file?.discard();
    this.#uploads.delete(name);
  }
}

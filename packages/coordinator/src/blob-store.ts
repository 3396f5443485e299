/**
 * Blobs uploaded for jobs, kept in memory until a Submit takes them. A job
 * bundle is content-addressed: named by its SHA-256 (agents cache and check it
 * by that name), and bytes that do not match the name are refused. Packed
 * inputs are used once, so they go up under an `upload:<random>` name and are
 * not hashed (that would cost two passes over what may be many MB). An
 * upload no Submit takes within `uploadTtlMs` (its client died in between)
 * is dropped at the next upload, so abandoned inputs do not pile up.
 */
import { sha256 } from '@picompute/sdk/bundle';

const UPLOAD_NAME = /^upload:[\w-]{16,64}$/;

export class BlobStore {
  readonly #blobs = new Map<string, Buffer>();
  /** One-time uploads, kept as the chunks they arrived in (framing splits them without a copy), oldest first. */
  readonly #uploads = new Map<string, { parts: Buffer[]; at: number }>();

  constructor(
    private readonly uploadTtlMs = 10 * 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Stores what arrived under `name`; a content-addressed name must match the bytes. */
  put(name: string, parts: Buffer[]): void {
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
    this.#uploads.delete(name);
    return upload?.parts;
  }

  /** Uploads waiting for their Submit, and their bytes. */
  get waiting(): { uploads: number; bytes: number } {
    let bytes = 0;
    for (const { parts } of this.#uploads.values()) for (const p of parts) bytes += p.length;
    return { uploads: this.#uploads.size, bytes };
  }

  #dropAbandoned(): void {
    const before = this.now() - this.uploadTtlMs;
    // Insertion order is arrival order: stop at the first upload still in time.
    for (const [name, { at }] of this.#uploads) {
      if (at > before) break;
      this.#uploads.delete(name);
    }
  }
}

/**
 * Blobs uploaded for jobs, kept in memory until a Submit takes them. A job
 * bundle is content-addressed: named by its SHA-256 (agents cache and check it
 * by that name), and bytes that do not match the name are refused. Packed
 * inputs are used once, so they go up under an `upload:<random>` name and are
 * not hashed (that would cost two passes over what may be many MB).
 */
import { sha256 } from '@picompute/sdk/bundle';

export class BlobStore {
  readonly #blobs = new Map<string, Buffer>();

  put(hash: string, bytes: Buffer): void {
    if (/^upload:[\w-]{16,64}$/.test(hash)) return void this.#blobs.set(hash, bytes);
    const actual = sha256(bytes);
    if (actual !== hash) throw new Error(`blob named ${hash.slice(0, 12)}… has sha256 ${actual.slice(0, 12)}…: refused`);
    this.#blobs.set(hash, bytes);
  }

  get(hash: string): Buffer | undefined {
    return this.#blobs.get(hash);
  }

  delete(hash: string): void {
    this.#blobs.delete(hash);
  }
}

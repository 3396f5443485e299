/**
 * Blobs uploaded for jobs, kept in memory until a Submit takes them. A job
 * bundle is content-addressed: named by its SHA-256 (agents cache and check it
 * by that name), and bytes that do not match the name are refused. Packed
 * inputs are used once, so they go up under an `upload:<random>` name and are
 * not hashed (that would cost two passes over what may be many MB).
 */
import { sha256 } from '@picompute/sdk/bundle';

const UPLOAD_NAME = /^upload:[\w-]{16,64}$/;

export class BlobStore {
  readonly #blobs = new Map<string, Buffer>();
  /** One-time uploads, kept as the chunks they arrived in (framing splits them without a copy). */
  readonly #uploads = new Map<string, Buffer[]>();

  /** Stores what arrived under `name`; a content-addressed name must match the bytes. */
  put(name: string, parts: Buffer[]): void {
    if (UPLOAD_NAME.test(name)) return void this.#uploads.set(name, parts);
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
    const parts = this.#uploads.get(name);
    this.#uploads.delete(name);
    return parts;
  }
}

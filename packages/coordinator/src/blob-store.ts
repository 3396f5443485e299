/**
 * Content-addressed blobs (job bundles, packed inputs), kept in memory and
 * named by their SHA-256. A blob whose bytes do not match its name is refused.
 */
import { sha256 } from '@picompute/sdk/bundle';

export class BlobStore {
  readonly #blobs = new Map<string, Buffer>();

  put(hash: string, bytes: Buffer): void {
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

/**
 * Jobs' shared values (`defineJob({ shared })`), kept in the blobs table
 * beside the bundles and, like them, named by their sha256: agents fetch
 * one with NeedBundle as they fetch code, and a coordinator restart loses
 * none. One row per value, however many jobs share it.
 */
import type Database from 'better-sqlite3';

export class SharedBlobs {
  readonly #put;

  constructor(db: Database.Database) {
    this.#put = db.prepare('INSERT OR IGNORE INTO blobs (hash, bytes) VALUES (@hash, @bytes)');
  }

  put(hash: string, bytes: Buffer): void {
    this.#put.run({ hash, bytes });
  }
}

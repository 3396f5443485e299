/**
 * A disk that fills while SQLite grows the WAL's index (-shm) answers
 * SQLITE_IOERR_SHMSIZE ("disk I/O error"), not SQLITE_FULL. The coordinator
 * must read it as a full disk, or a full --state-dir ends the process (seen
 * in CI: the disk-full test's coordinator died at that moment, under load).
 * Real SQLite on a real 20 MB tmpfs (root only, like the disk-full test).
 */
import { statfsSync, writeFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { canMount, mountTmpfs } from '../../../test/support/tmpfs.js';
import { isDiskFull } from '../src/state/disk-space.js';

const PAGE = 4096;

/** Fills the disk but `leavePages`, then writes rows until SQLite refuses; returns its error. */
function fillUntilRefused(leavePages: number): { code?: string; message: string } {
  const disk = mountTmpfs(20);
  const db = new Database(`${disk.dir}/state.db`);
  try {
    db.pragma('journal_mode = WAL');
    // As while checkpoints wait for readers: the WAL only grows.
    db.pragma('wal_autocheckpoint = 0');
    db.exec('CREATE TABLE t (b BLOB)');
    const s = statfsSync(disk.dir);
    writeFileSync(`${disk.dir}/filler`, Buffer.alloc(s.bavail * s.bsize - leavePages * PAGE));
    const insert = db.prepare('INSERT INTO t VALUES (?)');
    for (let i = 0; i < 10_000; i++) insert.run(Buffer.alloc(4000, 1));
    throw new Error('the disk never filled');
  } catch (err) {
    return err as { code?: string; message: string };
  } finally {
    db.close();
    disk.unmount();
  }
}

describe.skipIf(!canMount)('a disk that fills as the WAL index grows', () => {
  it('is reported by SQLite as SQLITE_IOERR_SHMSIZE, and counts as a full disk', () => {
    // The index's first 32 KiB cover ~4,060 frames: leave room for about that many, a page here or there.
    const errors = [4086, 4088, 4090, 4092, 4094].map(fillUntilRefused);
    const codes = new Set(errors.map((e) => e.code));
    expect(codes).toContain('SQLITE_IOERR_SHMSIZE');
    for (const err of errors) expect(isDiskFull(err), `${err.code}: ${err.message}`).toBe(true);
  });
});

/**
 * What the coordinator does when the disk under --state-dir fills up.
 *
 * SQLite answers a write it cannot make with SQLITE_FULL. Thrown out of the
 * once-per-turn commit, that used to end the process, and since the jobs
 * whose outputs filled the disk were still RUNNING in the database, every
 * restart ran them into the same wall. Instead the store stops the jobs whose
 * writes failed, refuses new submits with a DiskFullError, and this module
 * tells it when space has come back.
 *
 * To be able to write "this job failed because the disk is full" on a disk
 * that is full, the coordinator keeps a small reserve file next to the
 * database and deletes it at the first SQLITE_FULL; it is written again once
 * there is room for it and a margin besides, which is also the sign that
 * submits may be accepted again.
 */
import { rmSync, statfsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Enough for the rows that end a few jobs and the WAL frames of deleting their outputs. */
export const RESERVE_BYTES = 2 * 1024 * 1024;
/** Free space, beyond the reserve, that counts as "space is back". */
const MARGIN_BYTES = 2 * 1024 * 1024;
const CHECK_EVERY_MS = 2000;

export class DiskFullError extends Error {
  override name = 'DiskFullError';
}

/**
 * True for SQLite's and the OS's ways of saying the disk is full. SQLite says
 * SQLITE_FULL when the WAL file cannot grow, but when the disk fills just as
 * the WAL outgrows its index (every ~4,000 frames the -shm file takes another
 * 32 KiB) it says "disk I/O error" with SQLITE_IOERR_SHMSIZE: the same full
 * disk, met one write earlier. Taking it for anything else ended the process.
 */
export function isDiskFull(err: unknown): boolean {
  const code = (err as { code?: string } | undefined)?.code;
  return code === 'SQLITE_FULL' || code === 'ENOSPC' || code === 'SQLITE_IOERR_SHMSIZE';
}

export class DiskSpace {
  readonly #reserve: string;
  #full = false;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    readonly dir: string,
    private readonly log: (line: string) => void,
    private readonly onBack: () => void = () => {},
  ) {
    this.#reserve = join(dir, 'disk-reserve');
    if (!this.#writeReserve()) this.filled();
  }

  get full(): boolean {
    return this.#full;
  }

  /** The message a refused submit carries. */
  get message(): string {
    return `the coordinator's disk is full (${this.dir}): no new jobs until space is freed there; jobs already queued carry on`;
  }

  refuse(): DiskFullError {
    return new DiskFullError(this.message);
  }

  /** The disk filled: give back the reserve so the store can record what it must, and watch for space. */
  filled(): void {
    if (this.#full) return;
    this.#full = true;
    rmSync(this.#reserve, { force: true });
    this.log(`${this.message} (free some space, or restart with a \`stateDir\` on a bigger disk)`);
    this.#timer = setInterval(() => this.#check(), CHECK_EVERY_MS).unref();
  }

  close(): void {
    clearInterval(this.#timer);
  }

  /** Bytes free for this process under the state dir. */
  freeBytes(): number {
    const s = statfsSync(this.dir);
    return s.bavail * s.bsize;
  }

  /** While the disk is full: whether files may grow by `bytes` and leave half the reserve free (for ending jobs). */
  mayGrow(bytes: number): boolean {
    return bytes <= this.freeBytes() - RESERVE_BYTES / 2;
  }

  #check(): void {
    let free: number;
    try {
      free = this.freeBytes();
    } catch {
      return;
    }
    if (free < RESERVE_BYTES + MARGIN_BYTES || !this.#writeReserve()) return;
    clearInterval(this.#timer);
    this.#full = false;
    this.log(`disk space is back on ${this.dir} (${Math.floor(free / 1048576)} MiB free): accepting jobs again`);
    this.onBack();
  }

  #writeReserve(): boolean {
    try {
      writeFileSync(this.#reserve, Buffer.alloc(RESERVE_BYTES), { mode: 0o600 });
      return true;
    } catch (err) {
      rmSync(this.#reserve, { force: true });
      if (!isDiskFull(err)) throw err;
      return false;
    }
  }
}

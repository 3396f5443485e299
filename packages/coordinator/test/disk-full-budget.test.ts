/**
 * Once the state disk is full, the reserve the store gave back is for ending
 * the jobs whose writes were lost and for deleting their outputs. Outputs
 * that keep arriving in later turns (other tasks of the same job, other
 * jobs) may take only a quarter of it between them: when each turn's commit
 * could use all of it, a loaded machine's trickle of 1 MB outputs filled it
 * again, deleting the failed job's outputs then found no room in the WAL,
 * and the coordinator refused every submit until a restart that did not
 * help either (seen in CI: the disk-full test's space never came back).
 * Nor may a checkpoint grow the database file into it (seen in CI too).
 * Real SQLite on a real 20 MB tmpfs (root only, like the disk-full test).
 */
import { statfsSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { JobInputs } from '../src/job-inputs.js';
import { openDatabase } from '../src/state/database.js';
import { RESERVE_BYTES } from '../src/state/disk-space.js';
import { NO_STATS } from '../src/state/rows.js';
import type { JobEnd } from '../src/state/rows.js';
import { StateStore } from '../src/state/store.js';
import { canMount, mountTmpfs } from '../../../test/support/tmpfs.js';
import { request } from './support/build.js';

const MIB = 1024 * 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ended = (state: JobEnd['state']): JobEnd => ({ ...NO_STATS, state, reason: '', error: '', startedAt: 0, endedAt: Date.now(), result: undefined });

describe.skipIf(!canMount)('a full state disk', () => {
  let disk: ReturnType<typeof mountTmpfs> | undefined;
  let store: StateStore | undefined;
  afterEach(() => {
    store?.close();
    disk?.unmount();
  });

  const free = () => {
    const st = statfsSync(disk!.dir);
    return st.bavail * st.bsize;
  };
  /** A store on a new 20 MB tmpfs; `prepare` sets its database up first. */
  const open = (prepare?: (db: ReturnType<typeof openDatabase>) => void) => {
    disk = mountTmpfs(20);
    const db = openDatabase(disk.dir);
    prepare?.(db);
    store = new StateStore(db, true);
    return store;
  };
  const job = (s: StateStore, tasks: number) => {
    const id = s.insertJob(request({ taskCount: tasks }), tasks, Buffer.from('bundle'), Date.now());
    s.insertInputs(id, JobInputs.fromFrames(Array.from({ length: tasks }, () => Buffer.from('in'))), 0, 1_000);
    return id;
  };
  /** One 1 MiB output a turn, as results trickle in on a loaded machine, until the disk is full; returns how many went. */
  const fill = (s: StateStore, id: number) => {
    let i = 0;
    for (; !s.lost(id); i++) {
      expect(i, 'the disk never filled').toBeLessThan(40);
      s.taskDone(id, i, 1, Buffer.alloc(MIB, 1), i + 1);
      s.flush();
    }
    expect(s.disk.full).toBe(true);
    return i;
  };
  /** The failed job is ended and its outputs deleted, and with them the full disk goes (checked every 2 s). */
  const endedAndSpaceBack = async (s: StateStore, failed: number) => {
    s.endJob(failed, ended('FAILED'), false);
    await s.reclaimer.idle();
    expect(s.job(failed)?.state).toBe('FAILED');
    for (let t = 0; t < 40 && s.disk.full; t++) await sleep(250);
    expect(s.disk.full).toBe(false);
    expect(free()).toBeGreaterThan(10 * MIB);
  };

  it('keeps most of its reserve through later turns of outputs, so the failed job is deleted and space comes back', async () => {
    const s = open();
    const filler = job(s, 40);
    const beside = job(s, 40);
    const i = fill(s, filler);
    // More turns: the rest of the failed job's outputs, and another job's.
    for (let k = 0; k < 8; k++) {
      s.taskDone(filler, i + k, 1, Buffer.alloc(MIB, 2), i + k + 1);
      s.taskDone(beside, k, 1, Buffer.alloc(MIB / 2, 3), k + 1);
      s.flush();
    }
    expect(free()).toBeGreaterThanOrEqual((RESERVE_BYTES * 3) / 4 - 64 * 1024);
    await endedAndSpaceBack(s, filler);
  }, 30_000);

  it("does not checkpoint another job's waiting outputs into the reserve when a job ends, so the failed one is ended and deleted", async () => {
    const s = open();
    const filler = job(s, 40);
    const small = job(s, 2);
    // The last outputs before the disk filled are committed in the WAL only, pages past the database file's end.
    fill(s, filler);
    // Another job completes now: its inputs are reclaimed, and a checkpoint there once copied the filler's
    // outputs out of the WAL into the database file, which grew into the reserve and left no room to end anything.
    s.endJob(small, ended('COMPLETED'), true);
    await s.reclaimer.idle();
    expect(free()).toBeGreaterThanOrEqual(RESERVE_BYTES / 2);
    await endedAndSpaceBack(s, filler);
  }, 30_000);

  it('gives the WAL back after the failed job is deleted when the whole database waited in it (nothing checkpointed yet)', async () => {
    // As CI found it: a database file of 4 KiB, every page in an 18 MB WAL (no checkpoint had found room).
    const s = open((db) => db.pragma('wal_autocheckpoint = 0'));
    const filler = job(s, 40);
    fill(s, filler);
    await endedAndSpaceBack(s, filler);
  }, 30_000);
});

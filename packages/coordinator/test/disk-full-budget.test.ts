/**
 * Once the state disk is full, the reserve the store gave back is for ending
 * the jobs whose writes were lost and for deleting their outputs. Outputs
 * that keep arriving in later turns (other tasks of the same job, other
 * jobs) may take only a quarter of it between them: when each turn's commit
 * could use all of it, a loaded machine's trickle of 1 MB outputs filled it
 * again, deleting the failed job's outputs then found no room in the WAL,
 * and the coordinator refused every submit until a restart that did not
 * help either (seen in CI: the disk-full test's space never came back).
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
  const free = () => {
    const st = statfsSync(disk!.dir);
    return st.bavail * st.bsize;
  };
  afterEach(() => {
    store?.close();
    disk?.unmount();
  });

  it('keeps most of its reserve through later turns of outputs, so the failed job is deleted and space comes back', async () => {
    disk = mountTmpfs(20);
    const s = new StateStore(openDatabase(disk.dir), true);
    store = s;
    const job = (tasks: number) => {
      const id = s.insertJob(request({ taskCount: tasks }), tasks, Buffer.from('bundle'), Date.now());
      s.insertInputs(id, JobInputs.fromFrames(Array.from({ length: tasks }, () => Buffer.from('in'))), 0, 1_000);
      return id;
    };
    const filler = job(40);
    const beside = job(40);
    // One output a turn, as results trickle in on a loaded machine, until the disk is full.
    let i = 0;
    for (; !s.lost(filler); i++) {
      expect(i, 'the disk never filled').toBeLessThan(40);
      s.taskDone(filler, i, 1, Buffer.alloc(MIB, 1), i + 1);
      s.flush();
    }
    expect(s.disk.full).toBe(true);
    // More turns: the rest of the failed job's outputs, and another job's.
    for (let k = 0; k < 8; k++) {
      s.taskDone(filler, i + k, 1, Buffer.alloc(MIB, 2), i + k + 1);
      s.taskDone(beside, k, 1, Buffer.alloc(MIB / 2, 3), k + 1);
      s.flush();
    }
    expect(free()).toBeGreaterThanOrEqual((RESERVE_BYTES * 3) / 4 - 64 * 1024);
    // The failed job's outputs go, and with them the full disk (checked every 2 s).
    s.reclaimer.drop(filler, 'outputs');
    await s.reclaimer.idle();
    for (let t = 0; t < 40 && s.disk.full; t++) await sleep(250);
    expect(s.disk.full).toBe(false);
    expect(free()).toBeGreaterThan(10 * MIB);
  }, 30_000);

  it("does not checkpoint another job's waiting outputs into the reserve when a job ends, so the failed one is ended and deleted", async () => {
    disk = mountTmpfs(20);
    const s = new StateStore(openDatabase(disk.dir), true);
    store = s;
    const job = (tasks: number) => {
      const id = s.insertJob(request({ taskCount: tasks }), tasks, Buffer.from('bundle'), Date.now());
      s.insertInputs(id, JobInputs.fromFrames(Array.from({ length: tasks }, () => Buffer.from('in'))), 0, 1_000);
      return id;
    };
    const filler = job(40);
    const small = job(2);
    // The last outputs before the disk filled are committed in the WAL only, pages past the database file's end.
    for (let i = 0; !s.lost(filler); i++) {
      expect(i, 'the disk never filled').toBeLessThan(40);
      s.taskDone(filler, i, 1, Buffer.alloc(MIB, 1), i + 1);
      s.flush();
    }
    // Another job completes now: its inputs are reclaimed, and a checkpoint there once copied the filler's
    // outputs out of the WAL into the database file, which grew into the reserve and left no room to end anything.
    s.endJob(small, ended('COMPLETED'), true);
    await s.reclaimer.idle();
    expect(free()).toBeGreaterThanOrEqual(RESERVE_BYTES / 2);
    s.endJob(filler, ended('FAILED'), false);
    await s.reclaimer.idle();
    expect(s.job(filler)?.state).toBe('FAILED');
    for (let t = 0; t < 40 && s.disk.full; t++) await sleep(250);
    expect(s.disk.full).toBe(false);
    expect(free()).toBeGreaterThan(10 * MIB);
  }, 30_000);

  it('gives the WAL back after the failed job is deleted when the whole database waited in it (nothing checkpointed yet)', async () => {
    disk = mountTmpfs(20);
    const db = openDatabase(disk.dir);
    // As CI found it: a database file of 4 KiB, every page in an 18 MB WAL (no checkpoint had found room).
    db.pragma('wal_autocheckpoint = 0');
    const s = new StateStore(db, true);
    store = s;
    const filler = s.insertJob(request({ taskCount: 40 }), 40, Buffer.from('bundle'), Date.now());
    for (let i = 0; !s.lost(filler); i++) {
      expect(i, 'the disk never filled').toBeLessThan(40);
      s.taskDone(filler, i, 1, Buffer.alloc(MIB, 1), i + 1);
      s.flush();
    }
    s.endJob(filler, ended('FAILED'), false);
    await s.reclaimer.idle();
    expect(s.job(filler)?.state).toBe('FAILED');
    for (let t = 0; t < 40 && s.disk.full; t++) await sleep(250);
    expect(s.disk.full).toBe(false);
    expect(free()).toBeGreaterThan(10 * MIB);
  }, 30_000);
});

/**
 * A durable store keeps a job's inputs in parts of many inputs: a restart
 * reads back every input exactly (empty ones, one over a part's size), with
 * the attempts of re-runs and the outputs that finished; a job stored the
 * old way (a row per input in `tasks`) is read as before; the parts go once
 * the job completes, and the database file is checkpointed for it only when
 * that gave pages back.
 */
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { JobInputs } from '../src/job-inputs.js';
import { openDatabase } from '../src/state/database.js';
import { StateStore } from '../src/state/store.js';
import { NO_STATS } from '../src/state/rows.js';
import type { JobEnd } from '../src/state/store.js';

const request = { name: 'n', user: 'u', bundleHash: 'b' } as never;
const completed: JobEnd = { ...NO_STATS, state: 'COMPLETED', reason: '', error: '', result: undefined, startedAt: 1, endedAt: 2 };

/** 1,000 inputs: input i is i % 7 bytes of value i & 0xff, except 500, which is 1.5 MiB. */
function inputs(): JobInputs {
  return JobInputs.fromFrames(Array.from({ length: 1000 }, (_, i) => Buffer.alloc(i === 500 ? 1.5 * 1048576 : i % 7, i & 0xff)));
}

describe('inputs in parts', () => {
  it('a restarted store reads back each input, the attempts of re-runs and the outputs that finished', () => {
    const dir = mkdtempSync(join(tmpdir(), 'picompute-parts-'));
    const given = inputs();
    let store = new StateStore(openDatabase(dir), true);
    const id = store.insertJob(request, 1000, Buffer.from('x'), 1);
    for (let at = 0; at < 1000; ) at = store.insertInputs(id, given, at, 5);
    store.attempt(id, 3, 2);
    store.taskDone(id, 3, 2, Buffer.from('three'), 1);
    store.taskDone(id, 999, 1, Buffer.from('last'), 2);
    store.attempt(id, 10, 3);
    store.close();
    // Far fewer rows than inputs.
    const db = openDatabase(dir);
    expect(db.prepare('SELECT count(*) FROM input_parts').pluck().get()).toBeLessThanOrEqual(8);
    expect(db.prepare('SELECT count(*) FROM tasks').pluck().get()).toBe(0);
    db.close();

    store = new StateStore(openDatabase(dir), true);
    const [active] = store.activeJobs();
    expect(active!.tasks).toHaveLength(1000);
    active!.tasks.forEach((t, i) => {
      expect(t.idx).toBe(i);
      expect(t.input.equals(given.get(i))).toBe(true);
    });
    const seen = (i: number) => {
      const t = active!.tasks[i]!;
      return { attempts: t.attempts, done: Number(t.done), output: t.output?.toString() ?? null };
    };
    expect([seen(3), seen(999), seen(10), seen(0)]).toEqual([
      { attempts: 2, done: 1, output: 'three' },
      { attempts: 1, done: 1, output: 'last' },
      { attempts: 3, done: 0, output: null },
      { attempts: 0, done: 0, output: null },
    ]);
    store.close();
  });

  it('a job stored before schema 3 (a row per input) is read back as it was', () => {
    const dir = mkdtempSync(join(tmpdir(), 'picompute-parts-old-'));
    let store = new StateStore(openDatabase(dir), true);
    const id = store.insertJob(request, 3, Buffer.from('x'), 1);
    const insert = store.db.prepare('INSERT INTO tasks (job_id, idx, input, attempts) VALUES (?, ?, ?, ?)');
    for (const [i, attempts] of [0, 2, 0].entries()) insert.run(id, i, Buffer.from(`old ${i}`), attempts);
    store.taskDone(id, 2, 1, Buffer.from('done'), 1);
    store.close();

    store = new StateStore(openDatabase(dir), true);
    const tasks = store.activeJobs()[0]!.tasks;
    expect(tasks.map((t) => [t.input.toString(), t.attempts, Number(t.done), t.output?.toString() ?? null])).toEqual([
      ['old 0', 0, 0, null],
      ['old 1', 2, 0, null],
      ['old 2', 1, 1, 'done'],
    ]);
    store.close();
  });

  it('a completed job loses its parts and attempts in the background', async () => {
    const store = new StateStore(openDatabase(mkdtempSync(join(tmpdir(), 'picompute-parts-end-'))), true);
    const id = store.insertJob(request, 1000, Buffer.from('x'), 1);
    for (let at = 0; at < 1000; ) at = store.insertInputs(id, inputs(), at, 5);
    store.attempt(id, 1, 2);
    store.endJob(id, completed, true);
    await store.reclaimer.idle();
    const count = (table: string) => store.db.prepare(`SELECT count(*) FROM ${table} WHERE job_id = ?`).pluck().get(id);
    expect([count('input_parts'), count('task_attempts')]).toEqual([0, 0]);
    store.close();
  });

  it('a small job that completes leaves the database file untouched; a big one shrinks it on disk', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'picompute-parts-checkpoint-'));
    const file = join(dir, 'picompute.db');
    const store = new StateStore(openDatabase(dir), true);
    const end = async (given: JobInputs) => {
      const id = store.insertJob(request, given.count, Buffer.from('x'), 1);
      for (let at = 0; at < given.count; ) at = store.insertInputs(id, given, at, 5);
      store.flush();
      store.db.pragma('wal_checkpoint(TRUNCATE)');
      const before = readFileSync(file);
      store.endJob(id, completed, true);
      await store.reclaimer.idle();
      return { before, after: readFileSync(file) };
    };
    // Its end frees no page: its rows' deletion waits in the WAL for the next automatic checkpoint,
    // as every other write does (a checkpoint per job was an fsync and ~0.7 ms of the coordinator each).
    const small = await end(JobInputs.fromFrames([Buffer.from('one')]));
    expect(small.after.equals(small.before)).toBe(true);
    const big = await end(inputs());
    expect(big.after.length).toBeLessThan(big.before.length - 1048576);
    expect(statSync(file).size).toBe(big.after.length);
    store.close();
  });
});

/**
 * One JobStats carries a job's figures from its tasks' results to its row
 * and back, through a real SQLite state store: what `jobs` shows of a live
 * job is what it shows once the job has ended and is read from the database,
 * and a job recovered after a restart takes back what its row kept.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { JobInputs } from '../src/job-inputs.js';
import { JobRecord } from '../src/jobs/job-record.js';
import { endOf, summaryFromRow } from '../src/jobs/job-views.js';
import { mapTask } from '../src/jobs/task-id.js';
import { openDatabase } from '../src/state/database.js';
import { StateStore, statsFromRow } from '../src/state/store.js';
import { request } from './support/build.js';

let store: StateStore | undefined;
afterEach(() => store?.close());

/** A stored job of `tasks` tasks and its live record. */
function submitted(tasks: number) {
  store = new StateStore(openDatabase(mkdtempSync(join(tmpdir(), 'picompute-stats-'))), true);
  const req = request({ taskCount: tasks, priority: 2 });
  const inputs = JobInputs.fromFrames(Array.from({ length: tasks }, (_, i) => Buffer.from(`in${i}`)));
  const id = store.insertJob(req, tasks, Buffer.from('bundle'), 1_000);
  store.insertInputs(id, inputs, 0, 1_000);
  return { store, id, job: new JobRecord(String(id), req, inputs, 1_000) };
}

describe('JobStats', () => {
  it('a finished job reads back from its row with the figures its tasks gave it', () => {
    const { store, id, job } = submitted(3);
    job.start('a', 4, 2, 2_000);
    job.start('b', 2, 1, 2_100);
    job.taskDone('a', mapTask(0), 1, Buffer.from('x'), 30, 12);
    job.taskDone('b', mapTask(2), 1, Buffer.from('z'), 40, 64);
    expect(job.taskDone('a', mapTask(1), 1, Buffer.from('y'), 50, 20)).toMatchObject({ kind: 'finish', state: 'COMPLETED' });
    job.finish('COMPLETED', 2_500);
    expect(job.stats()).toEqual({
      tasksDone: 3,
      attempts: 3,
      cpuMs: 120,
      maxHeapMb: 64,
      nodes: ['a', 'b'],
      cores: 6,
      startedAt: 2_000,
      endedAt: 2_500,
      backups: 0,
      backupsWon: 0,
    });

    store.endJob(id, endOf(job), true);
    const row = store.job(id)!;
    expect(statsFromRow(row)).toEqual(job.stats());
    expect(summaryFromRow(row)).toEqual(job.summary());
    expect(summaryFromRow(row)).toMatchObject({ wallMs: 500, attempts: 3, cpuMs: 120, maxHeapMb: 64, cores: 6, startedAtMs: 2_000, endedAtMs: 2_500 });
  });

  it('a job recovered after a restart is RUNNING from when it started, its done tasks counted from their outputs', () => {
    const { store, id, job } = submitted(2);
    job.start('a', 1, 2, 2_000);
    store.started(id, 2_000);
    store.taskDone(id, 0, 1, Buffer.from('x'), 1);
    store.flush();
    const [active] = store.activeJobs();
    const again = JobRecord.recover(active!.job, active!.tasks);
    expect(again.state).toBe('RUNNING');
    expect(again.stats()).toMatchObject({ tasksDone: 1, startedAt: 2_000, endedAt: 0 });
    expect(again.runnable).toBe(1);
  });
});

/**
 * One round of the coordinator's loop as a pure step (like scheduler.test.ts
 * for the scheduler): live jobs and nodes in, the plan and the Slurm reasons
 * of the jobs left waiting out. Jobs come from real JobRecords (snapshot()),
 * so the job side of a round is tested too, without gRPC or SQLite.
 */
import { describe, expect, it } from 'vitest';
import type { SubmitRequest } from '@picompute/sdk/wire';
import { JobInputs } from '../src/job-inputs.js';
import { JobRecord } from '../src/jobs/job-record.js';
import { mapTask } from '../src/jobs/task-id.js';
import { reconcile } from '../src/scheduler/index.js';
import type { LiveJob } from '../src/scheduler/index.js';
import { job, node, request } from './support/build.js';

const live = (id: string, runnable: number, extra: Partial<LiveJob> = {}): LiveJob => ({ ...job(id, runnable), state: 'PENDING', ...extra });
const record = (id: string, tasks: number, extra: Partial<SubmitRequest> = {}) =>
  new JobRecord(id, request({ taskCount: tasks, ...extra }), JobInputs.fromFrames(Array.from({ length: tasks }, () => Buffer.from('i'))), 0);
const tasksOf = (plan: { jobId: string; tasks: number }[], jobId: string) => plan.filter((a) => a.jobId === jobId).reduce((n, a) => n + a.tasks, 0);

describe('reconcile', () => {
  it('plans what the scheduler would, and gives no reason to a job that got work', () => {
    const { plan, reasons } = reconcile([live('1', 10)], [node('a', 1), node('b', 1)]);
    expect(tasksOf(plan, '1')).toBe(4);
    expect(reasons.size).toBe(0);
  });

  it('NoNodes: no node is up (down or draining ones do not count)', () => {
    expect(reconcile([live('1', 3)], []).reasons).toEqual(new Map([['1', 'NoNodes']]));
    expect(reconcile([live('1', 3)], [node('a', 2, { health: 'down' }), node('b', 2, { health: 'draining' })]).reasons).toEqual(new Map([['1', 'NoNodes']]));
  });

  it('Resources: nodes are up but full', () => {
    const { plan, reasons } = reconcile([live('1', 3)], [node('a', 2, { freeSlots: 0 })]);
    expect(plan).toEqual([]);
    expect(reasons.get('1')).toBe('Resources');
  });

  it('Priority: a job of higher priority holds the cores (or takes them this round)', () => {
    const running = reconcile([live('1', 5, { state: 'RUNNING', running: 4, priority: 10 }), live('2', 5)], [node('a', 2, { freeSlots: 0 })]);
    expect(running.reasons).toEqual(new Map([['2', 'Priority']]));
    const placedNow = reconcile([live('2', 5), live('1', 50, { priority: 10 })], [node('a', 2, { freeSlots: 1 })]);
    expect(placedNow.plan).toEqual([{ nodeId: 'a', jobId: '1', tasks: 1 }]);
    expect(placedNow.reasons).toEqual(new Map([['2', 'Priority']]));
  });

  it('a RUNNING job that gets nothing more, or a job with nothing runnable, gets no reason', () => {
    const { reasons } = reconcile([live('1', 5, { state: 'RUNNING', running: 4 }), live('2', 0)], [node('a', 2, { freeSlots: 0 })]);
    expect(reasons.size).toBe(0);
  });

  it("fair share starts from what each user's running tasks hold", () => {
    const { plan } = reconcile([live('1', 100, { state: 'RUNNING', running: 4 }), live('2', 100, { user: 'bob' })], [node('a', 4, { freeSlots: 4 })]);
    expect(tasksOf(plan, '2')).toBe(4);
    expect(tasksOf(plan, '1')).toBe(0);
  });

  it('from JobRecords: a job held by its dependency is not placed, nor given another reason', () => {
    const held = record('2', 4, { dependency: 'afterok:1' });
    held.reason = 'Dependency';
    const free = record('3', 4);
    const { plan, reasons } = reconcile([held.snapshot(), free.snapshot()], [node('a', 1)]);
    expect(plan.map((a) => a.jobId)).toEqual(['3', '3']);
    expect(reasons.size).toBe(0);
  });

  it('from JobRecords: tasks out count against --max-running, tasks lost with a node are runnable again', () => {
    const j = record('1', 10, { maxRunning: 3 });
    j.start('a', 4, 3, 0);
    expect(reconcile([j.snapshot()], [node('b', 4)]).plan).toEqual([]);
    j.nodeLost('a', [{ id: mapTask(0), attempt: 1 }], 'gone');
    const { plan } = reconcile([j.snapshot()], [node('b', 4)]);
    expect(tasksOf(plan, '1')).toBe(1);
  });
});

/**
 * Taking over a task an agent held from a coordinator that went away
 * (../src/jobs/adopt.ts), on the job record alone: a pending map task is
 * adopted as running there with the agent's attempt and never handed out
 * again; one done, running elsewhere, or of a keyed job is not; a fold's
 * COMBINE and REDUCE are adopted only when due.
 */
import { describe, expect, it } from 'vitest';
import type { SubmitRequest } from '@picompute/sdk/wire';
import { JobInputs } from '../src/job-inputs.js';
import { adoptTask } from '../src/jobs/adopt.js';
import { JobRecord } from '../src/jobs/job-record.js';
import { combineTask, mapTask, REDUCE_TASK } from '../src/jobs/task-id.js';
import { request } from './support/build.js';

const job = (tasks: number, extra: Partial<SubmitRequest> = {}) =>
  new JobRecord('1', request({ taskCount: tasks, ...extra }), JobInputs.fromFrames(Array.from({ length: tasks }, (_, i) => Buffer.from(`in${i}`))), 0);
const handedOut = (j: JobRecord) => {
  const s = j.start('other', 8, 100, 0);
  return s.kind === 'send' ? s.tasks.map((t) => [t.id.index, t.attempt]) : [];
};

describe('adopting a held task', () => {
  it('a pending map task runs on, on its agent, with its attempt: its result counts, and it is not handed out again', () => {
    const j = job(4);
    expect(adoptTask(j, 'a', 2, mapTask(2), 1, 100)).toBe(true);
    expect(adoptTask(j, 'a', 2, mapTask(2), 1, 100)).toBe(false);
    expect(j.taskTable.row(2, 100)).toMatchObject({ state: 'RUNNING', node: 'a', attempt: 1 });
    expect(handedOut(j)).toEqual([
      [0, 1],
      [1, 1],
      [3, 1],
    ]);
    expect(j.taskDone('a', mapTask(2), 1, Buffer.from('x'), 5, 1)).toMatchObject({ kind: 'notify', output: { index: 2, attempt: 1 } });
    // A second word of the same completion is not a second output.
    expect(j.taskDone('a', mapTask(2), 1, Buffer.from('x'), 5, 1)).toEqual({ kind: 'ignored' });
  });

  it('a re-run counts on from the attempt the agent held, and a task waiting to run again is adopted too', () => {
    const j = job(2);
    expect(adoptTask(j, 'a', 1, mapTask(0), 2, 0)).toBe(true);
    expect(j.nodeLost('a', [{ id: mapTask(0), attempt: 2 }], 'gone')).toMatchObject({ kind: 'notify' });
    expect(adoptTask(j, 'b', 1, mapTask(0), 2, 0)).toBe(true);
    expect(j.nodeLost('b', [{ id: mapTask(0), attempt: 2 }], 'gone')).toMatchObject({ kind: 'notify' });
    expect(handedOut(j)).toEqual([
      [1, 1],
      [0, 3],
    ]);
  });

  it('not adopted: a task done already, one running elsewhere, one past the job, a keyed job’s, any of an ended job', () => {
    const j = job(3);
    j.start('b', 1, 2, 0);
    j.taskDone('b', mapTask(0), 1, Buffer.from('x'), 1, 1);
    expect(adoptTask(j, 'a', 1, mapTask(0), 1, 0)).toBe(false);
    expect(adoptTask(j, 'a', 1, mapTask(1), 1, 0)).toBe(false);
    expect(adoptTask(j, 'a', 1, mapTask(7), 1, 0)).toBe(false);
    expect(adoptTask(job(2, { keyed: true, partitions: 2 }), 'a', 1, mapTask(0), 1, 0)).toBe(false);
    j.finish('CANCELLED', 1);
    expect(adoptTask(j, 'a', 1, mapTask(2), 1, 0)).toBe(false);
  });

  it("a fold's COMBINE once its group is ready, and its REDUCE once due", () => {
    const j = job(16, { hasReduce: true });
    expect(adoptTask(j, 'a', 1, combineTask(0), 1, 0)).toBe(false);
    j.start('b', 8, 16, 0);
    for (let i = 0; i < 16; i++) j.taskDone('b', mapTask(i), 1, Buffer.from(`o${i}`), 1, 1);
    expect(adoptTask(j, 'a', 1, REDUCE_TASK, 1, 0)).toBe(false);
    expect(adoptTask(j, 'a', 1, combineTask(0), 1, 0)).toBe(true);
    expect(adoptTask(j, 'a', 1, combineTask(1), 1, 0)).toBe(true);
    expect(j.fold!.ready).toEqual([]);
    j.taskDone('a', combineTask(0), 1, Buffer.from('p0'), 1, 1);
    j.taskDone('a', combineTask(1), 1, Buffer.from('p1'), 1, 1);
    expect(adoptTask(j, 'a', 1, REDUCE_TASK, 1, 0)).toBe(true);
    expect(j.taskDone('a', REDUCE_TASK, 1, Buffer.from('r'), 1, 1)).toEqual({ kind: 'finish', state: 'COMPLETED' });
  });
});

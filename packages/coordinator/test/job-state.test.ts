/**
 * The job state machine (JobRecord's transitions) on its own: no gRPC, no
 * SQLite, no agents. Each transition changes the record and says what must
 * happen next; these tests read both.
 */
import { describe, expect, it } from 'vitest';
import type { SubmitRequest, TaskError } from '@picompute/sdk/wire';
import { JobInputs } from '../src/job-inputs.js';
import { JobRecord, MAX_ATTEMPTS_ON_NODE_LOSS } from '../src/jobs/job-record.js';
import type { Start } from '../src/jobs/next.js';
import { combineTask, fromWire, mapTask, REDUCE_TASK, toWire } from '../src/jobs/task-id.js';
import { request } from './support/build.js';

// These tests run on a clock of their own (times near 0) while `runnable` reads the real one, to which every task
// looks hours late: backups (tested in ./job-backups.test.ts) are off here.
const job = (tasks: number, extra: Partial<SubmitRequest> = {}, id = '1') =>
  new JobRecord(
    id,
    request({ taskCount: tasks, noBackups: true, ...extra }),
    JobInputs.fromFrames(Array.from({ length: tasks }, (_, i) => Buffer.from(`in${i}`))),
    0,
  );
const out = (s: string) => Buffer.from(s);
const sent = (s: Start) => {
  if (s.kind !== 'send') throw new Error(`expected tasks, got ${JSON.stringify(s)}`);
  return s.tasks;
};
const threw: TaskError = { kind: 'THREW', message: 'boom', stack: 'Error: boom', inputPreview: '"x"' };

describe('task ids', () => {
  it('name a task by kind and index; only the wire packs them into one number', () => {
    for (const id of [mapTask(0), mapTask(7), REDUCE_TASK, combineTask(0), combineTask(5)]) expect(fromWire(toWire(id))).toEqual(id);
    expect([toWire(mapTask(3)), toWire(REDUCE_TASK), toWire(combineTask(0)), toWire(combineTask(2))]).toEqual([3, -1, -2, -4]);
  });
});

describe('JobRecord transitions', () => {
  it('start: hands out pending tasks, PENDING → RUNNING once, and counts the node and its cores once', () => {
    const j = job(4);
    j.reason = 'Resources';
    const first = j.start('a', 4, 2, 100);
    expect(first).toMatchObject({ kind: 'send', began: true });
    expect(sent(first).map((t) => [t.id, t.attempt])).toEqual([
      [mapTask(0), 1],
      [mapTask(1), 1],
    ]);
    expect(j).toMatchObject({ state: 'RUNNING', reason: '', startedAt: 100, cores: 4, attemptsTotal: 2 });
    const second = j.start('a', 4, 5, 200);
    expect(second).toMatchObject({ began: false });
    expect(sent(second).map((t) => t.id.index)).toEqual([2, 3]);
    expect(j.cores).toBe(4);
    expect(j.runnable).toBe(0);
    expect(j.taskTable.state(3)).toBe('RUNNING');
  });

  it('task done: the last map output finishes the job, each output to store once', () => {
    const j = job(2);
    j.start('a', 1, 2, 0);
    expect(j.taskDone('a', mapTask(0), 1, out('x'), 5, 10)).toEqual({ kind: 'notify', logs: [], output: { index: 0, attempt: 1, value: out('x') } });
    expect(j.taskDone('a', mapTask(1), 1, out('y'), 5, 10)).toEqual({ kind: 'finish', state: 'COMPLETED', output: { index: 1, attempt: 1, value: out('y') } });
    expect(j.doneCount).toBe(2);
    expect(j.cpuMs).toBe(10);
  });

  it('task failed: a throw under --retries runs again; past them the job fails naming task, node, attempt and input', () => {
    const j = job(1, { retries: 1 });
    j.start('a', 1, 1, 0);
    expect(j.taskFailed('a', mapTask(0), 1, threw, 1, 1)).toEqual({ kind: 'notify', logs: [] });
    expect(j.retries).toBe(1);
    expect(j.taskTable.state(0)).toBe('PENDING');
    expect(sent(j.start('b', 1, 1, 0))[0]).toMatchObject({ id: mapTask(0), attempt: 2 });
    expect(j.taskFailed('b', mapTask(0), 2, threw, 1, 1)).toEqual({ kind: 'finish', state: 'FAILED' });
    expect(j.error).toContain('task 0 failed on b (attempt 2)');
    expect(j.error).toContain('input: "x"');
    expect(j.taskTable.state(0)).toBe('FAILED');
  });

  it('task failed: a time-out ends the job TIMEOUT without a retry', () => {
    const j = job(1, { retries: 3 });
    j.start('a', 1, 1, 0);
    expect(j.taskFailed('a', mapTask(0), 1, { ...threw, kind: 'TIMEOUT', message: 'over 1s' }, 1, 1)).toEqual({ kind: 'finish', state: 'TIMEOUT' });
  });

  it('node lost: its tasks wait for a node again, told to the watchers; lost too often, the job ends NODE_FAIL', () => {
    const j = job(2);
    j.start('a', 1, 2, 0);
    const next = j.nodeLost(
      'a',
      [
        { id: mapTask(0), attempt: 1 },
        { id: mapTask(1), attempt: 1 },
      ],
      'no heartbeat',
    );
    expect(next.kind).toBe('notify');
    expect(next.kind === 'notify' && next.logs.map((l) => [l.task, l.node])).toEqual([
      [0, 'coordinator'],
      [1, 'coordinator'],
    ]);
    expect(j).toMatchObject({ retries: 2, runnable: 2 });
    expect(j.running.size).toBe(0);
    for (let attempt = 2; attempt <= MAX_ATTEMPTS_ON_NODE_LOSS; attempt++) {
      const tasks = sent(j.start('b', 1, 2, 0));
      expect(tasks.map((t) => t.attempt)).toEqual([attempt, attempt]);
      const again = j.nodeLost(
        'b',
        tasks.map((t) => ({ id: t.id, attempt: t.attempt })),
        'gone',
      );
      if (attempt < MAX_ATTEMPTS_ON_NODE_LOSS) expect(again.kind).toBe('notify');
      else expect(again).toEqual({ kind: 'finish', state: 'NODE_FAIL' });
    }
    expect(j.error).toMatch(/task 0 was lost with its node 3 times \(last: b, gone\)/);
    expect(j.taskTable.state(0)).toBe('NODE_FAIL');
  });

  it("node lost with a fold's COMBINE in flight: the group is folded again elsewhere, then the REDUCE", () => {
    const j = job(16, { hasReduce: true });
    expect(j.fold!.grouped).toBe(true);
    const maps = sent(j.start('a', 4, 16, 0));
    expect(maps).toHaveLength(16);
    for (let i = 0; i < 8; i++) j.taskDone('a', mapTask(i), 1, out(`o${i}`), 1, 1);
    // Group 0 is complete: its COMBINE goes out before more map tasks.
    const combine = sent(j.start('a', 4, 1, 0));
    expect(combine).toMatchObject([{ id: combineTask(0), attempt: 1 }]);
    expect(combine[0]!.values.map(String)).toEqual(['o0', 'o1', 'o2', 'o3', 'o4', 'o5', 'o6', 'o7']);
    expect(j.runnable).toBe(0);
    // Node a dies with the COMBINE (and the other map tasks) out.
    const lost = [combine[0]!, ...maps.slice(8)].map((t) => ({ id: t.id, attempt: t.attempt }));
    expect(j.nodeLost('a', lost, 'no heartbeat').kind).toBe('notify');
    expect(j.fold!.ready).toEqual([0]);
    expect(j.runnable).toBe(1 + 8);
    const again = sent(j.start('b', 4, 1, 0));
    expect(again).toMatchObject([{ id: combineTask(0), attempt: 1 }]);
    // The late word of the dead node is not taken; the live one's is.
    expect(j.taskDone('a', combineTask(0), 1, out('late'), 1, 1)).toEqual({ kind: 'ignored' });
    expect(j.taskDone('b', combineTask(0), 1, out('g0'), 1, 1)).toEqual({ kind: 'notify', logs: [] });
    expect(j.fold!.partials[0]?.toString()).toBe('g0');
    expect(j.outputs.slice(0, 8)).toEqual(new Array(8).fill(undefined));
    for (const t of sent(j.start('b', 4, 8, 0))) j.taskDone('b', t.id, t.attempt, out('m'), 1, 1);
    expect(sent(j.start('b', 4, 1, 0))).toMatchObject([{ id: combineTask(1) }]);
    expect(j.taskDone('b', combineTask(1), 1, out('g1'), 1, 1).kind).toBe('notify');
    const reduce = sent(j.start('b', 4, 1, 0));
    expect(reduce).toMatchObject([{ id: REDUCE_TASK }]);
    expect(reduce[0]!.values.map(String)).toEqual(['g0', 'g1']);
    expect(j.taskDone('b', REDUCE_TASK, 1, out('r'), 1, 1)).toEqual({ kind: 'finish', state: 'COMPLETED' });
    expect(j.result?.toString()).toBe('r');
  });

  it('node lost with the REDUCE in flight: it runs again', () => {
    const j = job(2, { hasReduce: true });
    for (const t of sent(j.start('a', 1, 2, 0))) j.taskDone('a', t.id, t.attempt, out('m'), 1, 1);
    expect(sent(j.start('a', 1, 1, 0))).toMatchObject([{ id: REDUCE_TASK }]);
    j.nodeLost('a', [{ id: REDUCE_TASK, attempt: 1 }], 'gone');
    expect(j.fold!.final).toBe('pending');
    expect(sent(j.start('b', 1, 1, 0))).toMatchObject([{ id: REDUCE_TASK }]);
  });

  it('a result from a node already declared dead is ignored, and the task counted once', () => {
    const j = job(2);
    j.start('a', 1, 2, 0);
    j.nodeLost('a', [{ id: mapTask(0), attempt: 1 }], 'no heartbeat');
    expect(j.taskDone('a', mapTask(0), 1, out('late'), 1, 1)).toEqual({ kind: 'ignored' });
    expect(j.taskFailed('a', mapTask(0), 1, threw, 1, 1)).toEqual({ kind: 'ignored' });
    expect(j.doneCount).toBe(0);
    expect(sent(j.start('b', 1, 1, 0))).toMatchObject([{ id: mapTask(0), attempt: 2 }]);
    expect(j.taskDone('b', mapTask(0), 2, out('x'), 1, 1).kind).toBe('notify');
    // A duplicate of the accepted one, and the dead node's again: still one.
    expect(j.taskDone('b', mapTask(0), 2, out('x'), 1, 1)).toEqual({ kind: 'ignored' });
    expect(j.taskDone('a', mapTask(0), 1, out('late'), 1, 1)).toEqual({ kind: 'ignored' });
    expect(j.doneCount).toBe(1);
    expect(j.cpuMs).toBe(1);
  });

  it('a cancel racing a last result: whichever comes first wins, the other is ignored', () => {
    const cancelledFirst = job(1);
    cancelledFirst.start('a', 1, 1, 0);
    expect(cancelledFirst.cancel()).toEqual({ kind: 'finish', state: 'CANCELLED' });
    cancelledFirst.finish('CANCELLED', 10);
    expect(cancelledFirst.taskDone('a', mapTask(0), 1, out('x'), 1, 1)).toEqual({ kind: 'ignored' });
    expect(cancelledFirst).toMatchObject({ state: 'CANCELLED', doneCount: 0, error: 'cancelled by the user' });
    expect(cancelledFirst.taskTable.state(0)).toBe('CANCELLED');

    const resultFirst = job(1);
    resultFirst.start('a', 1, 1, 0);
    expect(resultFirst.taskDone('a', mapTask(0), 1, out('x'), 1, 1).kind).toBe('finish');
    resultFirst.finish('COMPLETED', 10);
    expect(resultFirst.cancel()).toEqual({ kind: 'ignored' });
    expect(resultFirst).toMatchObject({ state: 'COMPLETED', error: '' });
  });

  it('a dependency: held while the other runs, released when it completes, cancelled when it fails', () => {
    const waits = job(1, { dependency: 'afterok:7' }, '8');
    expect(waits.dependencyEnded('RUNNING')).toEqual({ kind: 'reason', reason: 'Dependency' });
    waits.reason = 'Dependency';
    expect(waits.runnable).toBe(0);
    expect(waits.dependencyEnded('COMPLETED')).toEqual({ kind: 'reason', reason: '' });

    const fails = job(1, { dependency: 'afterok:7' }, '9');
    fails.reason = 'Dependency';
    expect(fails.dependencyEnded('FAILED')).toEqual({ kind: 'finish', state: 'CANCELLED' });
    expect(fails.reason).toBe('DependencyNeverSatisfied');
    expect(fails.error).toBe('DEPENDENCY_NEVER_SATISFIED: job 7 ended FAILED, so afterok:7 can never hold');
    fails.finish('CANCELLED', 5);
    expect(fails).toMatchObject({ startedAt: 5, endedAt: 5, final: true });
    expect(job(1).dependencyEnded('FAILED')).toEqual({ kind: 'ignored' });
  });

  it('a fold step too big for one message fails the job, saying so', () => {
    const j = job(2, { hasReduce: true });
    for (const t of sent(j.start('a', 1, 2, 0, 10))) j.taskDone('a', t.id, t.attempt, Buffer.alloc(8), 1, 1);
    expect(j.start('a', 1, 1, 0, 10)).toEqual({ kind: 'finish', state: 'FAILED' });
    expect(j.error).toMatch(/^the reduce step needs .* of values in one message/);
  });
});

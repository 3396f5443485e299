/**
 * Backups of stragglers for every kind of job, and a full disk, on the state
 * machine alone (JobRecord, the scheduler): a map task of a plain or fold
 * job that runs past 10 s (here 1 s) and twice its phase's median near the
 * phase's end gets one copy on another node; the first to finish counts and
 * the other is handed back to be stopped on its node; a copy that fails
 * leaves its twin running; a job with `speculation: false` gets none; a task
 * that found no room on a node's disk runs elsewhere, and the scheduler
 * sends that job nothing more there.
 */
import { describe, expect, it } from 'vitest';
import type { SubmitRequest, TaskError } from '@picompute/sdk/wire';
import { JobInputs } from '../src/job-inputs.js';
import { PhaseTimes } from '../src/jobs/backup-plan.js';
import { JobRecord } from '../src/jobs/job-record.js';
import type { Start } from '../src/jobs/next.js';
import { keyedReduceTask, mapTask, REDUCE_TASK } from '../src/jobs/task-id.js';
import { schedule } from '../src/scheduler/index.js';
import { job as jobSnapshot, node, request } from './support/build.js';

const make = (tasks: number, extra: Partial<SubmitRequest> = {}) => {
  const j = new JobRecord(
    '1',
    request({ taskCount: tasks, ...extra }),
    JobInputs.fromFrames(Array.from({ length: tasks }, (_, i) => Buffer.from(`in${i}`))),
    0,
  );
  j.backupAfterMs = 1000;
  return j;
};
const sent = (s: Start) => {
  if (s.kind !== 'send') throw new Error(`expected tasks, got ${JSON.stringify(s)}`);
  return s.tasks.map((t) => [t.id.kind === 'MAP' ? t.id.index : t.id.kind, t.attempt]);
};
const error = (kind: TaskError['kind'], message: string): TaskError => ({ kind, message, stack: '', inputPreview: '', fetchNode: '' });

/** Maps 0 and 1 out on a, 2 and 3 on b and done in 100 ms each: the phase has nothing left to start and a median of 100 ms. */
function twoStragglersOnA(extra: Partial<SubmitRequest> = {}): JobRecord {
  const j = make(4, extra);
  expect(sent(j.start('a', 2, 2, 0))).toEqual([
    [0, 1],
    [1, 1],
  ]);
  expect(sent(j.start('b', 2, 2, 0))).toEqual([
    [2, 1],
    [3, 1],
  ]);
  j.taskDone('b', mapTask(2), 1, Buffer.from('o2'), 100, 1, 100);
  j.taskDone('b', mapTask(3), 1, Buffer.from('o3'), 100, 1, 100);
  return j;
}

describe('backups of stragglers, any job', () => {
  it("a plain map job's straggler gets one copy elsewhere past the threshold; the first to finish counts, the loser is handed back to stop", () => {
    const j = twoStragglersOnA();
    expect(j.backupsDue(500)).toEqual([]); // twice the median, but under the 1 s threshold
    // Two running, so at most one backup at a time (a tenth, at least one).
    expect(j.backupsDue(5000).map((r) => r.id)).toEqual([mapTask(0)]);
    // Not on the straggler's own node.
    expect(sent(j.start('a', 2, 1, 5000))).toEqual([]);
    expect(sent(j.start('b', 2, 2, 5000))).toEqual([[0, 2]]);
    expect(j.backupsDue(6000)).toEqual([]);
    expect(j.summary()).toMatchObject({ backups: 1, backupsWon: 0 });

    expect(j.taskDone('b', mapTask(0), 2, Buffer.from('o0'), 900, 1, 6000)).toMatchObject({ kind: 'notify', output: { index: 0, attempt: 2 } });
    expect(j.losers.map((r) => [r.node, r.id, r.attempt])).toEqual([['a', mapTask(0), 1]]);
    expect(j.summary()).toMatchObject({ backups: 1, backupsWon: 1 });
    // The loser's word, should it still come, counts for nothing.
    expect(j.taskDone('a', mapTask(0), 1, Buffer.from('late'), 6000, 1, 6000)).toEqual({ kind: 'ignored' });
    expect(j.stats()).toMatchObject({ backups: 1, backupsWon: 1 });
  });

  it('a task queued behind the straggler on its node gets the backup first: all its work is still ahead', () => {
    const j = make(4);
    // One core on a: map 0 runs there, map 1 waits behind it; b runs 2 and 3 in 100 ms.
    sent(j.start('a', 1, 2, 0));
    sent(j.start('b', 2, 2, 0));
    j.taskDone('b', mapTask(2), 1, Buffer.from('o2'), 100, 1, 100);
    j.taskDone('b', mapTask(3), 1, Buffer.from('o3'), 100, 1, 100);
    expect(j.backupsDue(5000).map((r) => r.id)).toEqual([mapTask(1)]);
  });

  it('when the straggler finishes first, its backup is the loser and the job counts no win', () => {
    const j = twoStragglersOnA();
    sent(j.start('b', 2, 1, 5000));
    j.taskDone('a', mapTask(0), 1, Buffer.from('o0'), 5100, 1, 5100);
    expect(j.losers.map((r) => [r.node, r.attempt])).toEqual([['b', 2]]);
    expect(j.summary()).toMatchObject({ backups: 1, backupsWon: 0 });
    expect(j.taskTable.row(0, 5200)).toMatchObject({ node: 'a', attempt: 1, state: 'COMPLETED' });
  });

  it('a copy that fails while its twin runs is dropped, and the twin carries on as the task', () => {
    const j = twoStragglersOnA();
    sent(j.start('b', 2, 1, 5000));
    const next = j.taskFailed('b', mapTask(0), 2, error('DISK_FULL', 'no space left (/x)'), 10, 1, 5500);
    expect(next).toMatchObject({ kind: 'notify', logs: [{ line: 'the copy on b failed (DISK_FULL: no space left (/x)); the other copy, on a, carries on' }] });
    expect(j.final).toBe(false);
    expect(j.avoid.has('b')).toBe(true);
    expect(j.taskDone('a', mapTask(0), 1, Buffer.from('o0'), 6000, 1, 6000).kind).toBe('notify');
    expect(j.losers).toEqual([]);
  });

  it("a fold job's map straggler gets a backup too, and its fold goes on with the winner's output", () => {
    const j = twoStragglersOnA({ hasReduce: true });
    sent(j.start('b', 2, 1, 5000));
    j.taskDone('b', mapTask(0), 2, Buffer.from('o0'), 900, 1, 6000);
    expect(j.backupsDue(20_000).map((r) => r.id)).toEqual([mapTask(1)]);
    expect(sent(j.start('c', 2, 1, 20_000))).toEqual([[1, 2]]);
    j.taskDone('c', mapTask(1), 2, Buffer.from('o1'), 900, 1, 21_000);
    expect(sent(j.start('c', 2, 1, 21_000))).toEqual([['REDUCE', 1]]);
    expect(j.taskDone('c', REDUCE_TASK, 1, Buffer.from('r'), 1, 1, 21_001)).toEqual({ kind: 'finish', state: 'COMPLETED' });
    expect(j.summary()).toMatchObject({ backups: 2, backupsWon: 2 });
  });

  it("a keyed job's reduce straggler gets a backup too; its part is committed once", () => {
    const j = make(2, { keyed: true, partitions: 2 });
    const manifest = (i: number) => Buffer.from(JSON.stringify({ runs: [0, 1].map((p) => ({ p, id: `m${i}-p${p}`, bytes: 10 })) }));
    // What a reducer reports: where its part file is, not the part.
    const note = (part: string) => Buffer.from(JSON.stringify({ part, bytes: 5, keys: 1 }));
    j.shuffle!.nodeAt('a', 'a:1');
    j.shuffle!.nodeAt('b', 'b:1');
    sent(j.start('a', 1, 1, 0));
    sent(j.start('b', 1, 1, 0));
    j.taskDone('a', mapTask(0), 1, manifest(0), 100, 1, 100);
    j.taskDone('b', mapTask(1), 1, manifest(1), 100, 1, 100);
    expect(sent(j.start('a', 1, 1, 200))).toEqual([['KEYED_REDUCE', 1]]);
    expect(sent(j.start('b', 1, 1, 200))).toEqual([['KEYED_REDUCE', 1]]);
    j.taskDone('b', keyedReduceTask(1), 1, note('part-1-a1'), 100, 1, 300);
    expect(j.backupsDue(5000).map((r) => r.id)).toEqual([keyedReduceTask(0)]);
    expect(sent(j.start('b', 1, 1, 5000))).toEqual([['KEYED_REDUCE', 2]]);
    expect(j.taskDone('b', keyedReduceTask(0), 2, note('part-0-a2'), 100, 1, 5100)).toEqual({ kind: 'finish', state: 'COMPLETED' });
    expect(j.losers.map((r) => [r.node, r.id, r.attempt])).toEqual([['a', keyedReduceTask(0), 1]]);
    expect(j.taskDone('a', keyedReduceTask(0), 1, note('part-0-a1'), 6000, 1, 6000)).toEqual({ kind: 'ignored' });
    expect(j.summary()).toMatchObject({ backups: 1, backupsWon: 1 });
  });

  it('a job submitted with speculation: false gets no backup', () => {
    const j = twoStragglersOnA({ noBackups: true });
    expect(j.backupsDue(60_000)).toEqual([]);
    expect(sent(j.start('b', 2, 1, 60_000))).toEqual([]);
  });
});

describe("a phase's yardstick", () => {
  it('is the median of its last 1,024 task times (a job of millions of tasks holds no more)', () => {
    const t = new PhaseTimes();
    expect(t.median()).toBeUndefined();
    for (let ms = 1; ms <= 2000; ms++) t.add(ms);
    expect(t.median()).toBe(977 + 512);
  });
});

describe('a full disk on one node', () => {
  it('moves the task to another node and keeps the job off the full one', () => {
    const j = make(2, { keyed: true, partitions: 1 });
    j.backupAfterMs = Infinity;
    expect(sent(j.start('a', 1, 1, 0))).toEqual([[0, 1]]);
    const next = j.taskFailed('a', mapTask(0), 1, error('DISK_FULL', "no space left on this agent's disk for the map's sorted runs (/spill)"), 5, 1, 10);
    expect(next).toMatchObject({
      kind: 'notify',
      logs: [
        {
          line:
            "task 0 found no room on a's disk (no space left on this agent's disk for the map's sorted runs (/spill)): it runs again on another node, " +
            'and this job sends a no more tasks',
        },
      ],
    });
    expect(j.final).toBe(false);
    expect(j.snapshot().avoid).toEqual(new Set(['a']));
    // The scheduler places the job's tasks only on b, even with a idle.
    const plan = schedule({ nodes: [node('a', 4), node('b', 1)], jobs: [jobSnapshot('1', 2, { avoid: j.avoid })] });
    expect(plan.map((p) => p.nodeId)).toEqual(['b', 'b']);
    expect(sent(j.start('a', 1, 1, 20))).toEqual([]);
    expect(sent(j.start('b', 1, 2, 20))).toEqual([
      [1, 1],
      [0, 2],
    ]);
  });

  it('a slower node takes the tasks when the faster one is kept off (it is not left waiting for the faster to take them)', () => {
    const nodes = [node('fast', 1, { speed: 100 }), node('slow', 1, { speed: 60 })];
    expect(schedule({ nodes, jobs: [jobSnapshot('1', 2)] }).map((p) => p.nodeId)).toEqual(['fast', 'fast']);
    expect(schedule({ nodes, jobs: [jobSnapshot('1', 2, { avoid: new Set(['fast']) })] }).map((p) => p.nodeId)).toEqual(['slow', 'slow']);
  });

  it('gives up, naming the disk, once a task found no room on maxNodeLosses nodes', () => {
    const j = make(1, { keyed: true, partitions: 1, maxNodeLosses: 2 });
    for (const [n, node] of ['a', 'b'].entries()) {
      sent(j.start(node, 1, 1, n));
      const next = j.taskFailed(node, mapTask(0), n + 1, error('DISK_FULL', `no space left (/spill-${node})`), 5, 1, n);
      if (node === 'b') expect(next).toEqual({ kind: 'finish', state: 'FAILED' });
    }
    expect(j.error).toBe(
      "task 0 found no room on b's disk (no space left (/spill-b)); that makes 2 nodes without room, so the job gives up (raise `maxNodeLosses` to allow more)",
    );
  });
});

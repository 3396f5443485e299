/**
 * A keyed job's state machine on its own (JobRecord with its ShufflePlan):
 * maps report where their runs are, reduces wait for every map and are told
 * where to fetch, a lost node costs exactly its maps, a reducer's failed
 * fetch re-plans, duplicates count once, and maxNodeLosses bounds it all.
 */
import { describe, expect, it } from 'vitest';
import type { SubmitRequest, TaskError } from '@picompute/sdk/wire';
import { unpackFrames } from '@picompute/sdk/framing';
import { JobInputs } from '../src/job-inputs.js';
import { JobRecord } from '../src/jobs/job-record.js';
import type { Start } from '../src/jobs/next.js';
import { fromWire, keyedReduceTask, mapTask, toWire } from '../src/jobs/task-id.js';
import { request } from './support/build.js';

const keyed = (maps: number, partitions: number, extra: Partial<SubmitRequest> = {}) =>
  new JobRecord(
    '1',
    request({ taskCount: maps, keyed: true, partitions, ...extra }),
    JobInputs.fromFrames(Array.from({ length: maps }, (_, i) => Buffer.from(`in${i}`))),
    0,
  );
const sent = (s: Start) => {
  if (s.kind !== 'send') throw new Error(`expected tasks, got ${JSON.stringify(s)}`);
  return s.tasks;
};
/** A map's manifest: one run per partition. */
const manifest = (index: number, partitions: number) =>
  Buffer.from(JSON.stringify({ runs: Array.from({ length: partitions }, (_, p) => ({ p, id: `m${index}-p${p}`, bytes: 10 })) }));
/** A reduce's output: where it left its part. */
const note = (part: string, bytes = 5) => Buffer.from(JSON.stringify({ part, bytes, keys: 1 }));
const fetchFailed = (node: string): TaskError => ({
  kind: 'FETCH_FAILED',
  message: `fetching from ${node} failed`,
  stack: '',
  inputPreview: '',
  fetchNode: node,
});

/** Maps 0,1 on node a; 2,3 on node b; all done. */
function mapsDone(j: JobRecord, partitions: number) {
  j.shuffle!.nodeAt('a', '10.0.0.1:7701');
  j.shuffle!.nodeAt('b', '10.0.0.2:7701');
  for (const [node, ids] of [
    ['a', [0, 1]],
    ['b', [2, 3]],
  ] as const) {
    for (const t of sent(j.start(node, 1, 2, 0))) expect(ids).toContain(t.id.index);
    for (const i of ids) expect(j.taskDone(node, mapTask(i), 1, manifest(i, partitions), 5, 1).kind).toBe('notify');
  }
}

describe('a keyed job', () => {
  it('reduces wait for every map, then each is told which node holds which of its runs', () => {
    const j = keyed(4, 2);
    expect(j.runnable).toBe(4);
    j.start('a', 1, 3, 0);
    expect(j.runnable).toBe(1);
    // Three maps done: no reduce may start yet.
    for (const i of [0, 1, 2]) j.taskDone('a', mapTask(i), 1, manifest(i, 2), 1, 1);
    expect(j.runnable).toBe(1);
    j.shuffle!.nodeAt('a', 'a:1');
    j.shuffle!.nodeAt('b', 'b:1');
    j.start('b', 1, 1, 0);
    expect(j.taskDone('b', mapTask(3), 1, manifest(3, 2), 1, 1).kind).toBe('notify');
    expect(j.runnable).toBe(2);
    const reduces = sent(j.start('a', 1, 5, 0));
    expect(reduces.map((t) => [t.id, t.attempt])).toEqual([
      [keyedReduceTask(0), 1],
      [keyedReduceTask(1), 1],
    ]);
    expect(JSON.parse(reduces[1]!.input.toString())).toEqual({
      partition: 1,
      sources: [
        { node: 'a', address: 'a:1', runs: ['m0-p1', 'm1-p1', 'm2-p1'] },
        { node: 'b', address: 'b:1', runs: ['m3-p1'] },
      ],
    });
    expect(fromWire(toWire(keyedReduceTask(5)))).toEqual(keyedReduceTask(5));
    expect(j.event().tasksTotal).toBe(6);
  });

  it('completes with the parts in partition order, a duplicate part committed once', () => {
    const j = keyed(4, 2);
    mapsDone(j, 2);
    sent(j.start('a', 1, 2, 0));
    expect(j.taskDone('a', keyedReduceTask(1), 1, note('part-1-a1'), 1, 1).kind).toBe('notify');
    // The same attempt again (a duplicate report): ignored.
    expect(j.taskDone('a', keyedReduceTask(1), 1, note('part-1-a9'), 1, 1).kind).toBe('ignored');
    expect(j.taskDone('a', keyedReduceTask(0), 1, note('part-0-a1'), 1, 1)).toMatchObject({ kind: 'finish', state: 'COMPLETED' });
    // The result says where each part is, in partition order.
    expect(unpackFrames(j.result!).map((f) => JSON.parse(String(f)))).toEqual([
      { node: 'a', address: '10.0.0.1:7701', part: 'part-0-a1', bytes: 5, keys: 1 },
      { node: 'a', address: '10.0.0.1:7701', part: 'part-1-a1', bytes: 5, keys: 1 },
    ]);
  });

  it('a node lost after its maps finished: exactly its maps run again, and reduces wait for them', () => {
    const j = keyed(4, 2);
    mapsDone(j, 2);
    const next = j.nodeLost('b', [], 'connection dropped');
    expect(next.kind).toBe('notify');
    expect(j.runnable).toBe(2); // maps 2 and 3; no reduce until they are done again
    const again = sent(j.start('a', 1, 5, 0));
    expect(again.map((t) => [t.id, t.attempt])).toEqual([
      [mapTask(2), 2],
      [mapTask(3), 2],
    ]);
    for (const i of [2, 3]) j.taskDone('a', mapTask(i), 2, manifest(i, 2), 1, 1);
    const reduces = sent(j.start('a', 1, 5, 0));
    expect(JSON.parse(reduces[0]!.input.toString()).sources).toEqual([{ node: 'a', address: '10.0.0.1:7701', runs: ['m0-p0', 'm1-p0', 'm2-p0', 'm3-p0'] }]);
  });

  it('a node lost once every partition is reduced costs nothing', () => {
    const j = keyed(4, 1);
    mapsDone(j, 1);
    sent(j.start('a', 1, 1, 0));
    expect(j.taskDone('a', keyedReduceTask(0), 1, note('part-0-a1'), 1, 1).kind).toBe('finish');
    expect(j.nodeLost('b', [], 'gone').kind).toBe('ignored');
  });

  it('a node lost with a finished part before the job completed: that partition is reduced again, with the maps it needs', () => {
    const j = keyed(4, 2);
    mapsDone(j, 2);
    j.shuffle!.nodeAt('c', '10.0.0.3:7701');
    sent(j.start('c', 1, 1, 0));
    expect(j.taskDone('c', keyedReduceTask(0), 1, note('part-0-a1'), 1, 1).kind).toBe('notify');
    const lost = j.nodeLost('c', [], 'gone');
    expect(lost.kind === 'notify' && lost.logs.map((l) => l.line).join('\n')).toMatch(/partition 0's finished part was on its disk: it is reduced again/);
    // Partition 1 was never started; partition 0 waits again (its runs are on a and b, both alive).
    expect(sent(j.start('a', 1, 5, 0)).map((t) => [t.id, t.attempt])).toEqual([
      [keyedReduceTask(1), 1],
      [keyedReduceTask(0), 2],
    ]);
  });

  it("a reducer that cannot fetch from a node: that node's maps run again and the reduce is planned again, not a failed job", () => {
    const j = keyed(4, 2);
    mapsDone(j, 2);
    sent(j.start('a', 1, 2, 0));
    const next = j.taskFailed('a', keyedReduceTask(0), 1, fetchFailed('b'), 1, 1);
    expect(next.kind).toBe('notify');
    expect(next.kind === 'notify' && next.logs.map((l) => l.line).join('\n')).toMatch(/could not fetch from b/);
    expect(j.final).toBe(false);
    // Maps 2 and 3 first; then partition 0 again, attempt 2.
    expect(sent(j.start('a', 1, 5, 0)).map((t) => t.id)).toEqual([mapTask(2), mapTask(3)]);
    for (const i of [2, 3]) j.taskDone('a', mapTask(i), 2, manifest(i, 2), 1, 1);
    expect(sent(j.start('a', 1, 5, 0)).map((t) => [t.id, t.attempt])).toEqual([[keyedReduceTask(0), 2]]);
  });

  it("a second reduce's fetch failure, planned before the maps ran again on that node, costs nothing more: each map runs again once", () => {
    const j = keyed(4, 2);
    mapsDone(j, 2);
    // Both reduces planned on a, both to fetch maps 2 and 3 from b, whose runs are gone.
    expect(sent(j.start('a', 2, 2, 0)).map((t) => t.id)).toEqual([keyedReduceTask(0), keyedReduceTask(1)]);
    j.taskFailed('a', keyedReduceTask(0), 1, fetchFailed('b'), 1, 1);
    // Maps 2 and 3 run again, on b itself (it is alive), and are done there before the second failure arrives.
    expect(sent(j.start('b', 1, 5, 0)).map((t) => [t.id, t.attempt])).toEqual([
      [mapTask(2), 2],
      [mapTask(3), 2],
    ]);
    for (const i of [2, 3]) j.taskDone('b', mapTask(i), 2, manifest(i, 2), 1, 1);
    const late = j.taskFailed('a', keyedReduceTask(1), 1, fetchFailed('b'), 1, 1);
    expect(late.kind === 'notify' && late.logs.map((l) => l.line).join('\n')).not.toMatch(/runs again \(attempt 3/);
    // Both reduces run again at once, with the maps' new runs on b; no map runs a third time.
    expect(sent(j.start('a', 2, 5, 0)).map((t) => [t.id, t.attempt])).toEqual([
      [keyedReduceTask(0), 2],
      [keyedReduceTask(1), 2],
    ]);
    expect(j.taskTable.rows().map((t) => t.attempt)).toEqual([1, 1, 2, 2]);
  });

  it('maxNodeLosses bounds how often a map output may be lost', () => {
    const j = keyed(4, 2, { maxNodeLosses: 1 });
    mapsDone(j, 2);
    const next = j.nodeLost('b', [], 'gone');
    expect(next).toMatchObject({ kind: 'finish', state: 'NODE_FAIL' });
    expect(j.error).toMatch(/task 2's output was lost with its node 1 times .*maxNodeLosses/);
  });

  it('a reduce that throws fails the job naming its partition', () => {
    const j = keyed(4, 2);
    mapsDone(j, 2);
    sent(j.start('a', 1, 1, 0));
    const error: TaskError = { kind: 'THREW', message: 'Error: reduceByKey threw for key "x"', stack: '', inputPreview: 'partition 0', fetchNode: '' };
    expect(j.taskFailed('a', keyedReduceTask(0), 1, error, 1, 1)).toMatchObject({ kind: 'finish', state: 'FAILED' });
    expect(j.error).toMatch(/^the reduce of partition 0 failed on a \(attempt 1\)/);
  });

  it('a straggler near the end of its phase gets one backup on another node; the first to finish wins, the other is ignored', () => {
    const j = keyed(4, 2);
    j.backupAfterMs = 1000;
    j.shuffle!.nodeAt('a', 'a:1');
    j.shuffle!.nodeAt('b', 'b:1');
    sent(j.start('a', 1, 2, 0));
    sent(j.start('b', 1, 2, 0));
    // Each agent has one core: a's second map gets it at 100, b's second (map 3) at 100 too, and map 3 then hangs.
    for (const [node, i, at] of [
      ['a', 0, 100],
      ['a', 1, 200],
      ['b', 2, 100],
    ] as const)
      j.taskDone(node, mapTask(i), 1, manifest(i, 2), 100, 1, at);
    // Past twice the median (100 ms) but not yet past backupAfterMs: no backup.
    expect(j.backupsDue(1000)).toEqual([]);
    expect(j.backupsDue(5000).map((r) => r.id)).toEqual([mapTask(3)]);
    // Never on the straggler's own node.
    expect(sent(j.start('b', 1, 1, 5000))).toEqual([]);
    const backup = sent(j.start('a', 1, 1, 5000));
    expect(backup.map((t) => [t.id, t.attempt])).toEqual([[mapTask(3), 2]]);
    expect(backup[0]!.input.toString()).toBe('in3');
    expect(j.backupsDue(6000)).toEqual([]);
    expect(j.snapshot().running).toBe(2);
    expect(j.taskDone('a', mapTask(3), 2, manifest(3, 2), 50, 1).kind).toBe('notify');
    // The original's late word is not committed a second time.
    expect(j.taskDone('b', mapTask(3), 1, manifest(3, 2), 6000, 1).kind).toBe('ignored');
    expect(j.summary()).toMatchObject({ backups: 1, backupsWon: 1 });
    // Its runs are where the winner left them.
    const reduce = sent(j.start('a', 1, 1, 6000))[0]!;
    expect(JSON.parse(reduce.input.toString()).sources).toEqual([
      { node: 'a', address: 'a:1', runs: ['m0-p0', 'm1-p0', 'm3-p0'] },
      { node: 'b', address: 'b:1', runs: ['m2-p0'] },
    ]);
  });

  it('no backup while the phase still has tasks to start, nor before any task of it has finished', () => {
    const j = keyed(3, 1);
    j.backupAfterMs = 1000;
    sent(j.start('a', 1, 1, 0));
    expect(j.backupsDue(60_000)).toEqual([]); // nothing finished: no median
    sent(j.start('b', 1, 1, 0));
    j.taskDone('b', mapTask(1), 1, manifest(1, 1), 10, 1, 10);
    expect(j.backupsDue(60_000)).toEqual([]); // map 2 still waits to start
  });

  it("a straggler's node lost while its backup runs: the backup carries on as the task", () => {
    const j = keyed(2, 1);
    j.backupAfterMs = 1000;
    sent(j.start('a', 1, 1, 0));
    sent(j.start('b', 1, 1, 0));
    j.taskDone('b', mapTask(1), 1, manifest(1, 1), 10, 1, 10);
    sent(j.start('b', 1, 1, 5000)); // the backup of map 0, on b
    expect(j.nodeLost('a', [{ id: mapTask(0), attempt: 1 }], 'gone').kind).toBe('notify');
    // Not queued again: the backup's run is the task's run now.
    expect(j.pending.length).toBe(0);
    expect([...j.running.values()]).toMatchObject([{ id: mapTask(0), node: 'b', attempt: 2 }]);
    expect(j.taskDone('b', mapTask(0), 2, manifest(0, 1), 10, 1).kind).toBe('notify');
    expect(j.shuffle!.runnable).toBe(1); // the reduce
  });

  it("a task waiting in its agent's queue is not a straggler: it is measured from when it gets a core", () => {
    const j = keyed(3, 1);
    j.backupAfterMs = 1000;
    // One core on a: map 0 runs, map 1 waits behind it; map 2 on b ends quickly.
    sent(j.start('a', 1, 2, 0));
    sent(j.start('b', 1, 1, 0));
    j.taskDone('b', mapTask(2), 1, manifest(2, 1), 2000, 1, 2000);
    // At 3,000 ms map 0 has run 3 s (under twice the 2 s median); map 1 has only waited.
    expect(j.backupsDue(3000)).toEqual([]);
    j.taskDone('a', mapTask(0), 1, manifest(0, 1), 3000, 1, 3000);
    // Map 1 got the core at 3,000: at 8,000 it has run 5 s, under twice the median (3 s, the upper one of two).
    expect(j.backupsDue(8000)).toEqual([]);
    expect(j.backupsDue(9500).map((r) => r.id)).toEqual([mapTask(1)]);
  });
});

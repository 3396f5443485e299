/**
 * Queued jobs that no node fits are set aside between rounds and come back
 * when a node fits their shape again or when they change; a round over the
 * jobs left plans what a round over all of them plans.
 */
import { describe, expect, it } from 'vitest';
import { fitsSomeNode, Parking, reconcile, waitReason } from '../src/scheduler/index.js';
import type { LiveJob } from '../src/scheduler/index.js';
import { job, node } from './support/build.js';

const live = (id: string, runnable: number, extra: Partial<LiveJob> = {}): LiveJob => ({ ...job(id, runnable), state: 'PENDING', ...extra });

/** What the cluster does each round (../src/cluster.ts #tick), over snapshots that stand for the job records. */
function round(parking: Parking<LiveJob>, nodes: Parameters<typeof reconcile>[1]) {
  parking.release((s) => fitsSomeNode(nodes, s));
  const r = reconcile([...parking.active()], nodes);
  for (const s of r.unplaceable) if (s.running === 0) parking.park(s, s);
  return r;
}

describe('parking queued jobs between rounds', () => {
  const held = Array.from({ length: 20 }, (_, i) => live(String(i + 1), 1, { constraint: 'hold' }));
  const runs = live('100', 10, { constraint: 'run' });

  it('leaves out of later rounds the jobs no node fits, and plans the same for the rest', () => {
    const nodes = [node('free', 2, { labels: ['run'] }), node('held', 2, { labels: ['hold'], freeSlots: 0 })];
    const parking = new Parking<LiveJob>();
    for (const j of [...held, runs]) parking.add(j);
    const first = round(parking, nodes);
    expect(parking.parkedCount).toBe(20);
    expect([...parking.active()]).toEqual([runs]);
    expect(round(parking, nodes).plan).toEqual(first.plan);
    expect(first.reasons.get('1')).toBe('Resources');
  });

  it('brings a shape back when a node fits it again, and a job back when it changes or ends', () => {
    const parking = new Parking<LiveJob>();
    for (const j of [...held, runs]) parking.add(j);
    // No node can take work at all: every job waits, the `run` one too.
    round(parking, [node('held', 2, { labels: ['hold'], freeSlots: 0 })]);
    expect(parking.parkedCount).toBe(21);
    parking.touch(held[0]!);
    parking.remove(held[1]!);
    expect(parking.parkedCount).toBe(19);
    expect([...parking.active()]).toContain(held[0]);
    expect([...parking.active()]).not.toContain(held[1]);
    const r = round(parking, [node('held', 2, { labels: ['hold'], freeSlots: 2 })]);
    // The `hold` jobs are back (the round placed two, the rest wait for it as candidates); no node fits `run` yet.
    expect(parking.parkedCount).toBe(1);
    expect(r.plan.map((a) => a.jobId)).toEqual(['1', '3']);
  });

  it("knows whether a running priority moving between two values crosses a parked job's own", () => {
    const parking = new Parking<LiveJob>();
    const low = live('1', 1, { constraint: 'hold' });
    const high = live('2', 1, { constraint: 'hold', priority: 10 });
    for (const j of [low, high]) parking.add(j);
    round(parking, [node('held', 2, { labels: ['hold'], freeSlots: 0 })]);
    expect(parking.anyPriorityIn(Number.NEGATIVE_INFINITY, 0)).toBe(false);
    expect(parking.anyPriorityIn(0, 5)).toBe(true);
    expect(parking.anyPriorityIn(5, 10)).toBe(false);
    parking.touch(low);
    expect(parking.anyPriorityIn(0, 5)).toBe(false);
    expect(parking.anyPriorityIn(10, 11)).toBe(true);
  });

  it('says why a parked job waits from what runs, as the round does', () => {
    expect(waitReason(false, 0, live('1', 1))).toBe('NoNodes');
    expect(waitReason(true, 5, live('1', 1))).toBe('Priority');
    expect(waitReason(true, 0, live('1', 1))).toBe('Resources');
    expect(waitReason(true, Number.NEGATIVE_INFINITY, live('1', 1))).toBe('Resources');
  });
});

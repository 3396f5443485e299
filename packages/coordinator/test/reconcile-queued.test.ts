/**
 * A round with many queued jobs that no node can take now (their label's
 * node is full): only jobs some node could take go to the scheduler, and the
 * round must still come out as if all had: the same plan for the rest, and
 * each held job its Slurm reason.
 */
import { describe, expect, it } from 'vitest';
import { reconcile, schedule } from '../src/scheduler/index.js';
import type { LiveJob } from '../src/scheduler/index.js';
import { job, node } from './support/build.js';

const live = (id: string, runnable: number, extra: Partial<LiveJob> = {}): LiveJob => ({ ...job(id, runnable), state: 'PENDING', ...extra });

describe('reconcile with jobs no node can take now', () => {
  const nodes = [node('free', 2, { labels: ['run'] }), node('held', 2, { labels: ['hold'], freeSlots: 0 })];
  const held = Array.from({ length: 50 }, (_, i) => live(String(i + 1), 1, { constraint: 'hold' }));
  const runs = [live('100', 10, { constraint: 'run' }), live('101', 3), live('102', 2, { constraint: 'run', priority: 5 })];

  it('plans for the others exactly what the scheduler plans for all jobs', () => {
    const jobs = [...held, ...runs];
    const usage = new Map<string, number>();
    expect(reconcile(jobs, nodes).plan).toEqual(schedule({ nodes, jobs, usage }));
    expect(reconcile(jobs, nodes).plan.length).toBeGreaterThan(0);
  });

  it('gives each held job its reason: Priority below a job that takes cores, Resources otherwise', () => {
    const { plan, reasons } = reconcile([...held, ...runs], nodes);
    expect(plan.every((a) => a.nodeId === 'free')).toBe(true);
    // Job 102 (priority 5) takes cores this round, so the held jobs (priority 0) wait on Priority.
    for (const h of held) expect(reasons.get(h.id)).toBe('Priority');
    const alone = reconcile(held, nodes).reasons;
    for (const h of held) expect(alone.get(h.id)).toBe('Resources');
  });

  it('a job whose shape fits only a node that is down waits like the rest (NoNodes when none is up)', () => {
    const down = [node('a', 4, { health: 'down', labels: ['hold'] })];
    expect(reconcile(held.slice(0, 3), down).reasons).toEqual(
      new Map([
        ['1', 'NoNodes'],
        ['2', 'NoNodes'],
        ['3', 'NoNodes'],
      ]),
    );
    expect(reconcile(held.slice(0, 3), down).plan).toEqual([]);
  });
});

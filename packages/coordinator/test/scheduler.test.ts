import { describe, expect, it } from 'vitest';
import { schedule } from '../src/scheduler/index.js';
import type { JobSnapshot, NodeSnapshot } from '../src/scheduler/index.js';

const node = (id: string, cores: number, freeSlots = 2 * cores, extra: Partial<NodeSnapshot> = {}): NodeSnapshot => ({ id, cores, freeSlots, health: 'up', labels: [], ...extra });
const job = (id: string, runnable: number, extra: Partial<JobSnapshot> = {}): JobSnapshot => ({ id, runnable, priority: 0, seq: Number(id), batchSize: 1, ...extra });

const perNode = (plan: ReturnType<typeof schedule>) => {
  const counts: Record<string, number> = {};
  for (const a of plan) counts[a.nodeId] = (counts[a.nodeId] ?? 0) + a.tasks;
  return counts;
};

describe('schedule', () => {
  it('fills every node window and no more', () => {
    const plan = schedule({ nodes: [node('a', 1), node('b', 1)], jobs: [job('1', 64)] });
    expect(perNode(plan)).toEqual({ a: 2, b: 2 });
  });

  it('spreads batches so both one-core agents get work even for two tasks', () => {
    const plan = schedule({ nodes: [node('a', 1), node('b', 1)], jobs: [job('1', 2)] });
    expect(perNode(plan)).toEqual({ a: 1, b: 1 });
  });

  it('gives a node with more cores a proportional share', () => {
    const plan = schedule({ nodes: [node('big', 4), node('small', 1)], jobs: [job('1', 6)] });
    expect(perNode(plan)).toEqual({ big: 5, small: 1 });
  });

  it('never places work on down or draining nodes, or on full ones', () => {
    const plan = schedule({
      nodes: [node('down', 4, 8, { health: 'down' }), node('drain', 4, 8, { health: 'draining' }), node('full', 2, 0), node('ok', 1)],
      jobs: [job('1', 10)],
    });
    expect(perNode(plan)).toEqual({ ok: 2 });
  });

  it('serves higher priority first, then submit order', () => {
    const plan = schedule({ nodes: [node('a', 1)], jobs: [job('1', 5), job('2', 5, { priority: 10 }), job('3', 5)] });
    expect(plan.map((a) => a.jobId)).toEqual(['2', '2']);
    const fifo = schedule({ nodes: [node('a', 2)], jobs: [job('2', 1), job('1', 5)] });
    expect(fifo.map((a) => a.jobId)).toEqual(['1', '1', '1', '1']);
  });

  it('moves on to the next job when the first runs out of tasks', () => {
    const plan = schedule({ nodes: [node('a', 2)], jobs: [job('1', 1), job('2', 10)] });
    expect(plan.map((a) => `${a.jobId}:${a.tasks}`)).toEqual(['1:1', '2:1', '2:1', '2:1']);
  });

  it('groups tiny tasks into batches of the job batch size', () => {
    const plan = schedule({ nodes: [node('a', 1)], jobs: [job('1', 250, { batchSize: 100 })] });
    expect(plan.map((a) => a.tasks)).toEqual([100, 100]);
  });

  it('is deterministic and does not change its input', () => {
    const snapshot = { nodes: [node('b', 2), node('a', 2)], jobs: [job('1', 7)] };
    const copy = structuredClone(snapshot);
    expect(schedule(snapshot)).toEqual(schedule(copy));
    expect(snapshot).toEqual(copy);
  });

  it('plans 1,000 nodes quickly and exactly fills them', () => {
    const nodes = Array.from({ length: 1000 }, (_, i) => node(`n${String(i).padStart(4, '0')}`, 4));
    const plan = schedule({ nodes, jobs: [job('1', 100_000, { batchSize: 2 })] });
    expect(plan).toHaveLength(8000);
    expect(Object.values(perNode(plan)).every((n) => n === 16)).toBe(true);
  });
});

import { describe, expect, it } from 'vitest';
import { schedule } from '../src/scheduler/index.js';
import type { Plan } from '../src/scheduler/index.js';
import { job, node } from './support/build.js';

const count = (plan: Plan, key: 'nodeId' | 'jobId') => {
  const counts: Record<string, number> = {};
  for (const a of plan) counts[a[key]] = (counts[a[key]] ?? 0) + a.tasks;
  return counts;
};

describe('schedule', () => {
  it('fills every node window (two core-slots a core) and no more', () => {
    expect(count(schedule({ nodes: [node('a', 1), node('b', 1)], jobs: [job('1', 64)] }), 'nodeId')).toEqual({ a: 2, b: 2 });
  });

  it('spreads batches so both one-core agents get work even for two tasks', () => {
    expect(count(schedule({ nodes: [node('a', 1), node('b', 1)], jobs: [job('1', 2)] }), 'nodeId')).toEqual({ a: 1, b: 1 });
  });

  it('gives a node with more cores a proportional share', () => {
    expect(count(schedule({ nodes: [node('big', 4), node('small', 1)], jobs: [job('1', 6)] }), 'nodeId')).toEqual({ big: 5, small: 1 });
  });

  it('never places work on down or draining nodes, or on full ones', () => {
    const plan = schedule({
      nodes: [node('down', 4, { health: 'down' }), node('drain', 4, { health: 'draining' }), node('full', 2, { freeSlots: 0 }), node('ok', 1)],
      jobs: [job('1', 10)],
    });
    expect(count(plan, 'nodeId')).toEqual({ ok: 2 });
  });

  it('within a user: priority first, then submit order', () => {
    const plan = schedule({
      nodes: [node('a', 2)],
      jobs: [job('1', 5, { running: 1 }), job('2', 5, { priority: 10, running: 1 }), job('3', 5, { running: 1 })],
    });
    expect(plan.map((a) => a.jobId)).toEqual(['2', '2', '2', '2']);
    const fifo = schedule({ nodes: [node('a', 2)], jobs: [job('2', 5, { running: 1 }), job('1', 5, { running: 1 })] });
    expect(fifo.map((a) => a.jobId)).toEqual(['1', '1', '1', '1']);
  });

  it('backfill: a small job behind a huge one gets a core at once', () => {
    const plan = schedule({ nodes: [node('a', 2, { freeSlots: 1 })], jobs: [job('1', 10_000, { running: 3 }), job('2', 1)] });
    expect(plan).toEqual([{ nodeId: 'a', jobId: '2', tasks: 1 }]);
  });

  it('fair share: users split the free cores, whoever submitted first', () => {
    const plan = schedule({
      nodes: [node('a', 4)],
      jobs: [job('1', 100, { user: 'alice', running: 1 }), job('2', 100, { user: 'bob', running: 1 })],
      usage: new Map([
        ['alice', 1],
        ['bob', 1],
      ]),
    });
    expect(count(plan, 'jobId')).toEqual({ 1: 4, 2: 4 });
    const catchUp = schedule({
      nodes: [node('a', 2)],
      jobs: [job('1', 100, { user: 'alice', running: 6 }), job('2', 100, { user: 'bob', running: 1 })],
      usage: new Map([
        ['alice', 6],
        ['bob', 1],
      ]),
    });
    expect(count(catchUp, 'jobId')).toEqual({ 2: 4 });
  });

  it('places a task only where its cores, memory and label fit', () => {
    const nodes = [node('small', 1, { labels: ['pi4'] }), node('big', 4, { labels: ['pi5'], freeMemoryMb: 2048, memoryMb: 8192 })];
    expect(count(schedule({ nodes, jobs: [job('1', 10, { coresPerTask: 2 })] }), 'nodeId')).toEqual({ big: 4 });
    expect(count(schedule({ nodes, jobs: [job('1', 10, { memoryMb: 1024 })] }), 'nodeId')).toEqual({ small: 2, big: 2 });
    expect(count(schedule({ nodes, jobs: [job('1', 10, { constraint: 'pi4' })] }), 'nodeId')).toEqual({ small: 2 });
    expect(schedule({ nodes, jobs: [job('1', 10, { constraint: 'gpu' })] })).toEqual([]);
  });

  it('a job that fits nowhere does not hold up the next one', () => {
    const plan = schedule({ nodes: [node('a', 2)], jobs: [job('1', 5, { coresPerTask: 8 }), job('2', 5)] });
    expect(count(plan, 'jobId')).toEqual({ 2: 4 });
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

  it('plans 1,000 nodes and exactly fills them', () => {
    const nodes = Array.from({ length: 1000 }, (_, i) => node(`n${String(i).padStart(4, '0')}`, 4));
    const plan = schedule({ nodes, jobs: [job('1', 100_000, { batchSize: 2 })] });
    expect(plan).toHaveLength(8000);
    expect(Object.values(count(plan, 'nodeId')).every((n) => n === 16)).toBe(true);
  });
});

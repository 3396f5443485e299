/**
 * A round with many queued jobs that fit no free node (10,000 wanting the
 * label of one busy node, beside 1,000 others): the jobs that fit are placed
 * exactly as before, and those that do not get nothing. The scheduler skips
 * a batch shape once it fitted nowhere in the round (nodes only fill up).
 */
import { describe, expect, it } from 'vitest';
import { schedule } from '../src/scheduler/index.js';
import { job, node } from './support/build.js';

describe('schedule with jobs that fit nowhere now', () => {
  it('places the jobs that fit and skips the 10,000 that want a full labelled node', () => {
    const nodes = [node('hold', 2, { labels: ['hold'] }), ...Array.from({ length: 1000 }, (_, i) => node(`n${i}`, 4))];
    const held = Array.from({ length: 10_000 }, (_, i) => job(String(i + 1), 1, { constraint: 'hold' }));
    const plan = schedule({ nodes, jobs: [...held, job('20001', 8000, { batchSize: 1000, running: 1 })] });
    // The labelled node's four slots go to the first four held jobs, in submit order.
    expect(plan.filter((a) => a.nodeId === 'hold')).toEqual(['1', '2', '3', '4'].map((jobId) => ({ nodeId: 'hold', jobId, tasks: 1 })));
    // The big job fills the other nodes' 8,000 slots.
    const big = plan.filter((a) => a.jobId === '20001');
    expect(big.reduce((n, a) => n + a.tasks, 0)).toBe(8000);
    expect(new Set(big.map((a) => a.nodeId)).has('hold')).toBe(false);
    expect(plan).toHaveLength(4 + big.length);
  });

  it('a shape that did not fit does not stop another shape that does', () => {
    const plan = schedule({
      nodes: [node('small', 1), node('big', 8, { freeSlots: 0 })],
      jobs: [job('1', 1, { coresPerTask: 4 }), job('2', 1, { coresPerTask: 4 }), job('3', 2, { coresPerTask: 1 })],
    });
    expect(plan).toEqual([
      { nodeId: 'small', jobId: '3', tasks: 1 },
      { nodeId: 'small', jobId: '3', tasks: 1 },
    ]);
  });
});

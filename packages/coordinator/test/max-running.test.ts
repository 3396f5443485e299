/** --max-running N (Slurm's --array=…%N) as a step of the pure scheduler. */
import { describe, expect, it } from 'vitest';
import { headroom, schedule } from '../src/scheduler/index.js';
import { job, node } from './support/build.js';

const tasksOf = (plan: ReturnType<typeof schedule>, jobId: string) => plan.filter((a) => a.jobId === jobId).reduce((n, a) => n + a.tasks, 0);

describe('--max-running in the scheduler', () => {
  it('places at most N tasks of a job across all nodes, however many cores are free', () => {
    const plan = schedule({ nodes: [node('a', 4), node('b', 4)], jobs: [job('1', 100, { maxRunning: 3 })] });
    expect(tasksOf(plan, '1')).toBe(3);
  });

  it('counts the tasks already in flight against the cap', () => {
    expect(tasksOf(schedule({ nodes: [node('a', 4)], jobs: [job('1', 100, { maxRunning: 3, running: 2 })] }), '1')).toBe(1);
    expect(schedule({ nodes: [node('a', 4)], jobs: [job('1', 100, { maxRunning: 3, running: 3 })] })).toEqual([]);
  });

  it('caps a batch of tiny tasks too, not only the number of batches', () => {
    expect(tasksOf(schedule({ nodes: [node('a', 4)], jobs: [job('1', 10_000, { maxRunning: 5, batchSize: 1024 })] }), '1')).toBe(5);
  });

  it('leaves the cores it does not take to other jobs', () => {
    const plan = schedule({ nodes: [node('a', 2)], jobs: [job('1', 100, { maxRunning: 1 }), job('2', 100)] });
    expect(tasksOf(plan, '1')).toBe(1);
    expect(tasksOf(plan, '2')).toBe(3);
  });

  it('means no cap when 0 or absent', () => {
    expect(headroom({ running: 50 }, 10)).toBe(Infinity);
    expect(headroom({ running: 50, maxRunning: 0 }, 10)).toBe(Infinity);
    expect(headroom({ running: 1, maxRunning: 4 }, 2)).toBe(1);
    expect(tasksOf(schedule({ nodes: [node('a', 2)], jobs: [job('1', 100, { maxRunning: 0 })] }), '1')).toBe(4);
  });
});

/** Placement that knows the hardware: speed per core, throttling, memory per task, and the labels agents give themselves. */
import { describe, expect, it } from 'vitest';
import { matchesConstraint, schedule, slotCap, speedFactors } from '../src/scheduler/index.js';
import type { NodeSnapshot, Plan } from '../src/scheduler/index.js';
import { slowedNow, slowedReason } from '../src/node-condition.js';
import { job, node } from './support/build.js';

const perNode = (plan: Plan) => {
  const counts: Record<string, number> = {};
  for (const a of plan) counts[a.nodeId] = (counts[a.nodeId] ?? 0) + a.tasks;
  return counts;
};

/** Lets the nodes run a job of `total` tasks round by round, each node finishing `perRound[id]` of what it holds a round; returns the tasks each ran. */
function simulate(nodes: NodeSnapshot[], total: number, perRound: Record<string, number>): Record<string, number> {
  const held = new Map(nodes.map((n) => [n.id, 0]));
  const ran: Record<string, number> = {};
  let left = total;
  for (let round = 0; round < 1000 && (left > 0 || [...held.values()].some((h) => h > 0)); round++) {
    const snapshot = nodes.map((n) => ({ ...n, freeSlots: 2 * n.cores - held.get(n.id)! }));
    for (const a of schedule({ nodes: snapshot, jobs: left > 0 ? [job('1', left, { running: total - left })] : [] })) {
      held.set(a.nodeId, held.get(a.nodeId)! + a.tasks);
      left -= a.tasks;
    }
    for (const n of nodes) {
      const done = Math.min(held.get(n.id)!, perRound[n.id]!);
      held.set(n.id, held.get(n.id)! - done);
      ran[n.id] = (ran[n.id] ?? 0) + done;
    }
  }
  return ran;
}

/**
 * Runs a job of `total` tasks tick by tick: each node runs a task on each
 * core for `ticks[id]` ticks, queued ones wait in its window; the scheduler
 * fills windows every tick. Returns the ticks until the last task ended.
 */
function timeline(nodes: NodeSnapshot[], total: number, ticks: Record<string, number>): { ticks: number; done: number } {
  const queued = new Map(nodes.map((n) => [n.id, 0]));
  const running = new Map(nodes.map((n) => [n.id, [] as number[]]));
  let left = total;
  let done = 0;
  let t = 0;
  for (; t < 10_000 && done < total; t++) {
    const held = (id: string) => queued.get(id)! + running.get(id)!.length;
    const snapshot = nodes.map((n) => ({ ...n, freeSlots: 2 * n.cores - held(n.id) }));
    for (const a of schedule({ nodes: snapshot, jobs: left > 0 ? [job('1', left, { running: total - left - done })] : [] })) {
      queued.set(a.nodeId, queued.get(a.nodeId)! + a.tasks);
      left -= a.tasks;
    }
    for (const n of nodes) {
      const r = running.get(n.id)!;
      while (r.length < n.cores && queued.get(n.id)! > 0) {
        r.push(ticks[n.id]!);
        queued.set(n.id, queued.get(n.id)! - 1);
      }
      const after = r.map((x) => x - 1);
      done += after.filter((x) => x <= 0).length;
      running.set(
        n.id,
        after.filter((x) => x > 0),
      );
    }
  }
  return { ticks: t, done };
}

describe('speed per core', () => {
  it('a node four times faster takes the next batches first, and the slow one queues less', () => {
    const nodes = [node('slow', 2, { speed: 100 }), node('fast', 2, { speed: 400 })];
    // Five tasks: the fast node's whole window; the fifth waits for it, since it would end there before one ends on the slow node.
    expect(perNode(schedule({ nodes, jobs: [job('1', 5)] }))).toEqual({ fast: 4 });
    // Plenty of tasks: the slow node runs one a core plus a queue scaled by its speed (2 + round(2 × ¼) = 3), the fast one its window.
    expect(perNode(schedule({ nodes, jobs: [job('1', 64)] }))).toEqual({ fast: 4, slow: 3 });
  });

  it("near a job's end a slow node starts none of its tasks, unless no faster node could run them", () => {
    const nodes = [node('slow', 2, { speed: 100 }), node('fast', 2, { speed: 400 })];
    // The slow node takes 4 task times of the fast one's 2 cores for one task (8 tasks there): it takes one once the fast node's
    // window is full only while 8 more are left to place, so the fast node would still be busy when it finished.
    expect(perNode(schedule({ nodes, jobs: [job('1', 12)] }))).toEqual({ fast: 4, slow: 1 });
    expect(perNode(schedule({ nodes, jobs: [job('1', 11)] }))).toEqual({ fast: 4 });
    expect(perNode(schedule({ nodes: [nodes[0]!, { ...nodes[1]!, freeSlots: 0 }], jobs: [job('1', 3, { running: 4 })] }))).toEqual({});
    // A job only the slow node can run still runs there to the last task.
    const labelled = [node('slow', 2, { speed: 100, labels: ['model=pi4'] }), node('fast', 2, { speed: 400, labels: ['model=pi5'] })];
    expect(perNode(schedule({ nodes: labelled, jobs: [job('1', 1, { constraint: 'model=pi4' })] }))).toEqual({ slow: 1 });
    // Even with two slow nodes it may run on: neither waits for a faster node the job cannot use.
    const twoPi4 = [...labelled, node('slow2', 2, { speed: 100, labels: ['model=pi4'] })];
    expect(Object.keys(perNode(schedule({ nodes: twoPi4, jobs: [job('1', 1, { constraint: 'model=pi4' })] })))).toHaveLength(1);
    // As does one where the fast node is down.
    expect(perNode(schedule({ nodes: [nodes[0]!, { ...nodes[1]!, health: 'down' }], jobs: [job('1', 1)] }))).toEqual({ slow: 1 });
  });

  it("a straggler's backup runs on a slower idle node: the faster node it would wait for is the one that straggles", () => {
    // The fast node runs the job's last map, long past the others; the slow node is idle. Without the backup's
    // exception, the near-the-end rule kept the slow node from starting it, and the straggler ran to its end.
    // Speeds probed under load: the idle node measured at 0.4 of the straggler's (below SAME_SPEED, so it counts as slower).
    const nodes = [node('slow', 1, { speed: 40 }), node('fast', 1, { speed: 100, freeSlots: 1 })];
    const backupOnly = job('1', 1, { running: 1, backups: 1 });
    expect(perNode(schedule({ nodes: [nodes[0]!, { ...nodes[1]!, freeSlots: 0 }], jobs: [backupOnly] }))).toEqual({ slow: 1 });
    // A last task that is not a backup still waits for the faster node, as before.
    expect(perNode(schedule({ nodes: [nodes[0]!, { ...nodes[1]!, freeSlots: 0 }], jobs: [job('1', 1, { running: 1 })] }))).toEqual({});
  });

  it('a job on a fast and a slow node ends sooner weighed by speed than by free slots alone', () => {
    const makespan = (speeds: boolean) =>
      timeline([node('slow', 2, { speed: speeds ? 100 : 0 }), node('fast', 2, { speed: speeds ? 400 : 0 })], 64, { slow: 8, fast: 2 });
    const weighed = makespan(true);
    const plain = makespan(false);
    expect(weighed.done).toBe(64);
    expect(plain.done).toBe(64);
    expect(weighed.ticks).toBeLessThan(plain.ticks);
  });

  it('over a whole job the faster node runs most of the tasks', () => {
    const ran = simulate([node('slow', 2, { speed: 100 }), node('fast', 2, { speed: 400 })], 64, { slow: 1, fast: 4 });
    expect(ran.fast! + ran.slow!).toBe(64);
    expect(ran.fast).toBeGreaterThan(3 * ran.slow!);
  });

  it('speeds are relative to the fastest live node, even a full one', () => {
    // The fast node has no free slot: the slow one still counts as slow (cap 3, not its whole window of 4).
    const plan = schedule({ nodes: [node('slow', 2, { speed: 100 }), node('fast', 2, { speed: 400, freeSlots: 0 })], jobs: [job('1', 64)] });
    expect(perNode(plan)).toEqual({ slow: 3 });
  });

  it('a node not measured yet counts as the fastest; equal speeds, or within a quarter of the fastest (probe noise), change nothing', () => {
    expect(perNode(schedule({ nodes: [node('a', 1, { speed: 1000 }), node('b', 1, { speed: 760 })], jobs: [job('1', 3)] }))).toEqual({ a: 2, b: 1 });
    expect(perNode(schedule({ nodes: [node('a', 1, { speed: 1000 }), node('b', 1, { speed: 760 })], jobs: [job('1', 64)] }))).toEqual({ a: 2, b: 2 });
    expect(perNode(schedule({ nodes: [node('a', 1, { speed: 300 }), node('b', 1)], jobs: [job('1', 64)] }))).toEqual({ a: 2, b: 2 });
    expect(perNode(schedule({ nodes: [node('a', 2, { speed: 7 }), node('b', 2, { speed: 7 })], jobs: [job('1', 2)] }))).toEqual({ a: 1, b: 1 });
  });

  it('`nodes` factors are multiples of the slowest measured node', () => {
    expect(speedFactors([100, 400, 0, 250])).toEqual([1, 4, 0, 2.5]);
    expect(speedFactors([0, 0])).toEqual([0, 0]);
  });
});

describe('throttling', () => {
  it("the scheduler's flag is set exactly when `nodes` names a live reason (bits 0–3), not for since-boot history", () => {
    for (const throttled of [-1, 0, 1, 2, 4, 8, 0x10000, 0x80000, 0x50005, 0xf000f, 16]) {
      expect(slowedNow({ throttled }), `bits ${throttled.toString(16)}`).toBe(slowedReason({ throttled }) !== '');
    }
    expect(slowedNow({ throttled: 0x50005 })).toBe(true);
    expect(slowedNow({ throttled: 0x50000 })).toBe(false);
    expect(slowedNow(undefined)).toBe(false);
  });

  it('a throttling node runs on a quarter of its cores, at least one, and takes the next batch last', () => {
    expect(slotCap({ cores: 4, throttled: true }, 0)).toBe(1);
    expect(slotCap({ cores: 8, throttled: true }, 0)).toBe(2);
    expect(slotCap({ cores: 1, throttled: true }, 0)).toBe(1);
    expect(slotCap({ cores: 4 }, 0)).toBe(8);
    const nodes = [node('hot', 4, { throttled: true }), node('cool', 4)];
    expect(perNode(schedule({ nodes, jobs: [job('1', 64)] }))).toEqual({ cool: 8, hot: 1 });
    expect(perNode(schedule({ nodes, jobs: [job('1', 9)] }))).toEqual({ cool: 8, hot: 1 });
  });

  it('gets new tasks at a reduced rate while it throttles, and its full share once it recovers', () => {
    const cores = 4;
    const hot = simulate([node('hot', cores, { throttled: true }), node('cool', cores)], 200, { hot: 4, cool: 4 });
    expect(hot.hot! + hot.cool!).toBe(200);
    expect(hot.hot).toBeLessThan(hot.cool! / 3);
    const recovered = simulate([node('hot', cores), node('cool', cores)], 200, { hot: 4, cool: 4 });
    expect(recovered).toEqual({ hot: 100, cool: 100 });
  });

  it('the fastest node throttling does not leave a slower one waiting for it: the last task of a job still starts', () => {
    // Speeds measured on a loaded machine: the hot node probed fastest, the cool one at half its speed.
    const nodes = [node('hot', 4, { throttled: true, speed: 400, freeSlots: 0 }), node('cool', 4, { speed: 200 })];
    expect(perNode(schedule({ nodes, jobs: [job('1', 1)] }))).toEqual({ cool: 1 });
    const free = [node('hot', 4, { throttled: true, speed: 400 }), node('cool', 4, { speed: 200 })];
    expect(Object.values(perNode(schedule({ nodes: free, jobs: [job('1', 1)] }))).reduce((a, b) => a + b, 0)).toBe(1);
  });

  it('a node that holds nothing takes a task wanting more cores than its throttled cap', () => {
    expect(perNode(schedule({ nodes: [node('hot', 4, { throttled: true })], jobs: [job('1', 5, { coresPerTask: 4 })] }))).toEqual({ hot: 1 });
    // Once it holds that task it takes no other until it recovers.
    expect(schedule({ nodes: [node('hot', 4, { throttled: true, freeSlots: 4 })], jobs: [job('1', 5, { coresPerTask: 4 })] })).toEqual([]);
  });
});

describe('memory per task (--mem-per-task)', () => {
  it('never places a task on a node without the memory it asks for, counting what is promised to tasks in flight', () => {
    const nodes = [node('pi4', 4, { memoryMb: 1024, freeMemoryMb: 1024 }), node('pi5', 4, { memoryMb: 8192, freeMemoryMb: 8192 })];
    // 2 GiB a task: never on the 1 GiB node, and the 8 GiB node holds four at once, not its window of eight.
    expect(perNode(schedule({ nodes, jobs: [job('1', 64, { memoryMb: 2048 })] }))).toEqual({ pi5: 4 });
    // 512 MiB a task: the 1 GiB node holds two.
    expect(perNode(schedule({ nodes, jobs: [job('1', 64, { memoryMb: 512 })] }))).toEqual({ pi4: 2, pi5: 8 });
    // Memory promised to tasks in flight is not free.
    expect(schedule({ nodes: [node('pi5', 4, { memoryMb: 8192, freeMemoryMb: 1000 })], jobs: [job('1', 64, { memoryMb: 2048 })] })).toEqual([]);
  });
});

describe('constraints', () => {
  const pi5 = ['arch=arm64', 'model=pi5', 'gpu'];
  const pi4 = ['arch=arm64', 'model=pi4'];

  it('match one label, all of several (&) or any of several (|)', () => {
    expect(matchesConstraint(pi5, 'model=pi5')).toBe(true);
    expect(matchesConstraint(pi4, 'model=pi5')).toBe(false);
    expect(matchesConstraint(pi5, 'arch=arm64&gpu')).toBe(true);
    expect(matchesConstraint(pi4, 'arch=arm64&gpu')).toBe(false);
    expect(matchesConstraint(pi4, 'model=pi4|model=pi5')).toBe(true);
    expect(matchesConstraint(['arch=x64'], 'model=pi4|model=pi5')).toBe(false);
    expect(matchesConstraint(pi4, undefined)).toBe(true);
  });

  it('place tasks only on matching nodes', () => {
    const nodes = [node('a', 1, { labels: pi5 }), node('b', 1, { labels: pi4 }), node('c', 1, { labels: ['arch=x64'] })];
    expect(perNode(schedule({ nodes, jobs: [job('1', 64, { constraint: 'arch=arm64' })] }))).toEqual({ a: 2, b: 2 });
    expect(perNode(schedule({ nodes, jobs: [job('1', 64, { constraint: 'model=pi5|arch=x64' })] }))).toEqual({ a: 2, c: 2 });
  });
});

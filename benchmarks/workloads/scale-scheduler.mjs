/**
 * Scale, simulated: the scheduler alone places 1,000,000 queued tasks on
 * 1,000 four-core nodes. Each round plans against the snapshot, then every
 * placed batch "finishes" and frees its slots; no network, no clock inside.
 */
import { schedule } from '@picompute/coordinator/scheduler';

export async function run({ quick, report }) {
  const nodesN = 1000;
  const total = quick ? 100_000 : 1_000_000;
  const nodes = Array.from({ length: nodesN }, (_, i) => ({
    id: `n${i}`,
    health: 'up',
    cores: 4,
    freeSlots: 8,
    freeMemoryMb: 4096,
    memoryMb: 4096,
    labels: [],
  }));
  // Ten users with ten jobs each share the queue.
  const jobs = Array.from({ length: 100 }, (_, i) => ({
    id: String(i + 1),
    user: `u${i % 10}`,
    priority: 0,
    seq: i + 1,
    runnable: total / 100,
    running: 0,
    batchSize: 1,
    coresPerTask: 1,
    memoryMb: 0,
  }));
  const heapBefore = process.memoryUsage().heapUsed;
  let placed = 0;
  let rounds = 0;
  let peakHeap = 0;
  const t = performance.now();
  while (placed < total) {
    const plan = schedule({ nodes, jobs });
    if (plan.length === 0) throw new Error('the scheduler stopped placing work with tasks left');
    const byJob = new Map();
    for (const a of plan) byJob.set(a.jobId, (byJob.get(a.jobId) ?? 0) + a.tasks);
    for (const j of jobs) j.runnable -= byJob.get(j.id) ?? 0;
    placed += plan.reduce((s, a) => s + a.tasks, 0);
    rounds++;
    peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
  }
  const ms = performance.now() - t;
  report.add(
    'scale (simulated)',
    `scheduler: ${total.toLocaleString('en')} tasks, 1,000 4-core nodes, 100 jobs of 10 users`,
    (placed / ms) * 1000,
    'placements/s',
    { ms: +ms.toFixed(0), rounds, heapMiB: +((peakHeap - heapBefore) / 1048576).toFixed(1) },
  );
  report.note('scale: target ≥ 200,000 placements/s, under 500 MB');
}

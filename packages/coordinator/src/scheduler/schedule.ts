/**
 * The scheduler: snapshot → plan, in two passes.
 *
 * 1. Backfill: every runnable job with nothing in flight gets one batch
 *    first, so a small job submitted behind a huge one starts as soon as a
 *    core frees up instead of after the huge one.
 * 2. Fair share: each further batch goes to the user holding the fewest
 *    core-slots, and within that user to the job first by priority, then
 *    submit order. A job that fits nowhere now is passed over, not waited on.
 *
 * Each batch goes to the fitting node with the most free share of its window,
 * weighed by its speed and throttling (./weights.ts: near a job's end a slow
 * node starts none of its tasks), and no job gets more tasks in flight than
 * its --max-running (./throttle.ts).
 */
import { canTakeWork, couldEverRun } from './feasibility.js';
import { NodeQueue } from './node-queue.js';
import { byJobOrder } from './rank.js';
import { headroom } from './throttle.js';
import type { Assignment, JobSnapshot, Plan, Snapshot } from './types.js';
import { capacityOf, fastestSpeed, weight } from './weights.js';

/** A job's capacity when any node that fits is worth starting. */
const ANY_NODE = { total: Infinity, best: 1 };

export function schedule(snapshot: Snapshot): Plan {
  // Speeds are relative to the fastest live node, busy or not.
  const fastest = fastestSpeed(snapshot.nodes.filter((n) => n.health !== 'down'));
  const nodes = new NodeQueue(snapshot.nodes.filter(canTakeWork), fastest);
  // Each job's capacity on the nodes that could run it, busy or not, and the best weight among them:
  // computed once a plan, only when speeds differ.
  const capacities = new Map<JobSnapshot, { total: number; best: number }>();
  const capacity = (job: JobSnapshot): { total: number; best: number } => {
    if (!fastest) return { total: Infinity, best: 1 };
    let c = capacities.get(job);
    if (c === undefined) {
      c = { total: 0, best: 0 };
      // Not the nodes it keeps off: a slower node would wait for them to take its tasks, and nothing would.
      for (const n of snapshot.nodes)
        if (n.health === 'up' && couldEverRun(n, job) && !job.avoid?.has(n.id)) {
          c.total += capacityOf(n, fastest);
          c.best = Math.max(c.best, weight(n, fastest));
        }
      capacities.set(job, c);
    }
    return c;
  };
  const plan: Assignment[] = [];
  const left = new Map<JobSnapshot, number>();
  const placed = new Map<JobSnapshot, number>();
  const usage = new Map(snapshot.usage ?? []);
  const jobs = snapshot.jobs.filter((j) => j.runnable > 0).sort(byJobOrder);
  // Nodes only fill up during a plan: a batch of a shape (cores, memory, label) that fit no node will
  // not fit later in it either. Without this, each of 10,000 queued jobs wanting a busy label walked
  // all 1,000 nodes' heap twice a round (bench --scale: seconds a round).
  const unplaceable = new Set<string>();

  const placeOne = (job: JobSnapshot): boolean => {
    const runnable = left.get(job) ?? job.runnable;
    // A job at its --max-running cap gets nothing more in this plan (and leaves the race below).
    const room = Math.min(runnable, headroom(job, placed.get(job) ?? 0));
    if (room <= 0) return false;
    // A job no node could take now spares the next of the same shape the search; with speeds measured,
    // whether a slow node is worth starting also depends on the tasks left, so those are part of the shape.
    // Only backups left: any node that fits runs one (see JobSnapshot.backups).
    const cap = job.backups !== undefined && runnable <= job.backups ? ANY_NODE : capacity(job);
    const shape = `${job.coresPerTask}/${job.memoryMb}/${job.constraint ?? ''}${Number.isFinite(cap.total) ? `/${cap.total}/${cap.best}/${runnable}` : ''}`;
    const nodeId = unplaceable.has(shape) ? undefined : nodes.place(job, cap.total, runnable, cap.best);
    if (!nodeId) {
      // A job kept off some nodes says nothing of others of its shape.
      if (!job.avoid) unplaceable.add(shape);
      return false;
    }
    const tasks = Math.min(Math.max(1, Math.floor(job.batchSize)), room);
    plan.push({ nodeId, jobId: job.id, tasks });
    placed.set(job, (placed.get(job) ?? 0) + tasks);
    left.set(job, runnable - tasks);
    usage.set(job.user, (usage.get(job.user) ?? 0) + job.coresPerTask);
    return true;
  };

  for (const job of jobs) if (job.running === 0 && nodes.size > 0) placeOne(job);

  // Per user, the jobs still in the race, in order, from `at` on (an index, not shift(): 10,000 queued jobs made shifting quadratic).
  const byUser = new Map<string, { jobs: JobSnapshot[]; at: number }>();
  for (const job of jobs) {
    if ((left.get(job) ?? job.runnable) > 0) (byUser.get(job.user) ?? byUser.set(job.user, { jobs: [], at: 0 }).get(job.user)!).jobs.push(job);
  }
  while (nodes.size > 0 && byUser.size > 0) {
    let user: string | undefined;
    for (const u of byUser.keys())
      if (user === undefined || (usage.get(u) ?? 0) < (usage.get(user) ?? 0) || ((usage.get(u) ?? 0) === (usage.get(user) ?? 0) && u < user)) user = u;
    const queue = byUser.get(user!)!;
    const job = queue.jobs[queue.at]!;
    if (!placeOne(job) || (left.get(job) ?? 0) <= 0) queue.at++;
    if (queue.at === queue.jobs.length) byUser.delete(user!);
  }
  return plan;
}

/**
 * The scheduler: snapshot → plan. Jobs are served in rank order; each batch
 * goes to the feasible node with the most free share of its window.
 */
import { canTakeWork } from './feasibility.js';
import { NodeQueue } from './node-queue.js';
import { byJobOrder } from './rank.js';
import type { Assignment, Plan, Snapshot } from './types.js';

export function schedule(snapshot: Snapshot): Plan {
  const nodes = new NodeQueue(snapshot.nodes.filter(canTakeWork));
  const plan: Assignment[] = [];
  for (const job of [...snapshot.jobs].sort(byJobOrder)) {
    const batch = Math.max(1, Math.floor(job.batchSize));
    for (let runnable = job.runnable; runnable > 0 && nodes.size > 0; ) {
      const tasks = Math.min(batch, runnable);
      plan.push({ nodeId: nodes.peek()!.id, jobId: job.id, tasks });
      nodes.take();
      runnable -= tasks;
    }
    if (nodes.size === 0) break;
  }
  return plan;
}

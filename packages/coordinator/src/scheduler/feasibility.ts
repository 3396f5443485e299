/** Whether a node could run a job's task: now (free capacity) or ever (its size). */
import { matchesConstraint } from './constraint.js';
import type { JobSnapshot, NodeSnapshot } from './types.js';

export function canTakeWork(node: NodeSnapshot): boolean {
  return node.health === 'up' && node.freeSlots > 0 && node.cores > 0;
}

/** The node's size and labels suit the job, whatever is running on it. */
export function couldEverRun(
  node: Pick<NodeSnapshot, 'cores' | 'memoryMb' | 'labels'>,
  job: Pick<JobSnapshot, 'coresPerTask' | 'memoryMb' | 'constraint'>,
): boolean {
  return node.cores >= job.coresPerTask && node.memoryMb >= job.memoryMb && matchesConstraint(node.labels, job.constraint);
}

/** The node can take one more batch of the job right now. */
export function fitsNow(node: NodeSnapshot, slots: number, memoryMb: number, job: JobSnapshot): boolean {
  return node.health === 'up' && slots >= job.coresPerTask && memoryMb >= job.memoryMb && couldEverRun(node, job);
}

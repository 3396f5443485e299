/** Orders jobs by who goes first and nodes by who takes the next batch. */
import type { JobSnapshot, NodeSnapshot } from './types.js';

/** Priority first, then submit order: what a Slurm user expects within one user. */
export function byJobOrder(a: JobSnapshot, b: JobSnapshot): number {
  return b.priority - a.priority || a.seq - b.seq;
}

/**
 * Spread: the node with the larger share of its window free takes the next
 * batch, so every node gets work and faster-draining nodes get more of it.
 * Ties go by id, so a plan is deterministic.
 */
export function byFreeShare(a: NodeSnapshot, b: NodeSnapshot, slots: ReadonlyMap<string, number>): number {
  const fa = slots.get(a.id)! / a.cores;
  const fb = slots.get(b.id)! / b.cores;
  return fb - fa || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/** Orders jobs by who goes first and nodes by who takes the next batch. */
import type { JobSnapshot } from './types.js';

/** Within one user: priority first, then submit order, as a Slurm user expects. */
export function byJobOrder(a: JobSnapshot, b: JobSnapshot): number {
  return b.priority - a.priority || a.seq - b.seq;
}

/**
 * Spread: the node with the larger share of its window free takes the next
 * batch, so every node gets work and faster-draining nodes get more of it.
 * Ties go by id, so a plan is deterministic.
 */
export function byFreeShare(a: { id: string; cores: number; slots: number }, b: { id: string; cores: number; slots: number }): number {
  return b.slots / b.cores - a.slots / a.cores || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/** Orders jobs by who goes first and nodes by who takes the next batch. */
import type { JobSnapshot } from './types.js';

/** Within one user: priority first, then submit order, as a Slurm user expects. */
export function byJobOrder(a: JobSnapshot, b: JobSnapshot): number {
  return b.priority - a.priority || a.seq - b.seq;
}

/**
 * Spread: the node with the larger share of its window free takes the next
 * batch, so every node gets work and faster-draining nodes get more of it.
 * The share is weighed by the node's speed and throttling (./weights.ts), so
 * of two nodes with slots free the faster takes the next batch first.
 * Ties go by id, so a plan is deterministic.
 */
export function byFreeShare(a: FreeShare, b: FreeShare): number {
  return share(b) - share(a) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

interface FreeShare {
  id: string;
  cores: number;
  slots: number;
  /** 1 when absent. */
  weight?: number;
}

const share = (n: FreeShare) => (n.slots / n.cores) * (n.weight ?? 1);

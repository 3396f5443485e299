/**
 * The scheduler's whole world: a snapshot in, a plan out. Nothing here does
 * I/O or reads a clock, so a plan can be tested and simulated at any scale.
 */

export type NodeHealth = 'up' | 'down' | 'draining';

export interface NodeSnapshot {
  id: string;
  health: NodeHealth;
  cores: number;
  /** Task batches this node can still take before its window is full. */
  freeSlots: number;
  labels: readonly string[];
}

export interface JobSnapshot {
  id: string;
  /** Higher runs first. */
  priority: number;
  /** Submit order, to break priority ties (first come, first served). */
  seq: number;
  /** Tasks ready to be placed now. */
  runnable: number;
  /** Tasks per batch this job's tasks are grouped into (tiny tasks travel many to a message). */
  batchSize: number;
}

export interface Snapshot {
  nodes: readonly NodeSnapshot[];
  jobs: readonly JobSnapshot[];
}

/** Send `tasks` of job `jobId`'s runnable tasks to node `nodeId` as one batch. */
export interface Assignment {
  nodeId: string;
  jobId: string;
  tasks: number;
}

export type Plan = Assignment[];

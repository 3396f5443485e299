/**
 * The scheduler's whole world: a snapshot in, a plan out. Nothing here does
 * I/O or reads a clock, so a plan can be tested and simulated at any scale.
 *
 * Capacity is counted in core-slots: a node takes batches up to twice its
 * cores (one running and one queued per core, so a core never waits on a
 * round trip), a batch of a job with `coresPerTask: c` takes c of them, and
 * the memory its tasks ask for is counted against the node's.
 */

export type NodeHealth = 'up' | 'down' | 'draining';

export interface NodeSnapshot {
  id: string;
  health: NodeHealth;
  cores: number;
  /** Core-slots still free in this node's window. */
  freeSlots: number;
  /** Memory not yet promised to in-flight tasks, MiB. */
  freeMemoryMb: number;
  /** Total memory, MiB: what a job can ever ask for here. */
  memoryMb: number;
  labels: readonly string[];
  /** Core-slots of its whole window (held + free); default 2 × cores. */
  window?: number;
  /** Speed per core as the agent measured it (any unit, the same on every node); 0 or absent: not measured, counted as the fastest. */
  speed?: number;
  /** The node reports throttling or under-voltage now: it gets new tasks at a reduced rate (./weights.ts). */
  throttled?: boolean;
}

export interface JobSnapshot {
  id: string;
  user: string;
  /** Higher runs first within a user. */
  priority: number;
  /** Submit order, to break priority ties (first come, first served). */
  seq: number;
  /** Tasks ready to be placed now. */
  runnable: number;
  /**
   * Of `runnable`, backups of straggling tasks. The near-the-end rule
   * (./weights.ts worthStarting: a slower node leaves a job's last tasks to
   * faster ones) does not hold for them: the node they would wait for is the
   * one that straggles.
   */
  backups?: number;
  /** Tasks of this job in flight now. */
  running: number;
  /** At most this many of its tasks in flight at once, cluster-wide (0 or absent: no cap). */
  maxRunning?: number;
  /** Tasks per batch (tiny tasks travel many to a message). */
  batchSize: number;
  coresPerTask: number;
  /** Per-task memory request, MiB (0: none). */
  memoryMb: number;
  /** Only nodes whose labels match (./constraint.ts: `a`, `a&b`, `a|b`). */
  constraint?: string;
  /** Nodes (as `NodeSnapshot.id` names them) this job must not get tasks on: their disk had no room for its files. */
  avoid?: ReadonlySet<string>;
}

export interface Snapshot {
  nodes: readonly NodeSnapshot[];
  jobs: readonly JobSnapshot[];
  /** Core-slots each user holds now (fair share starts from here). */
  usage?: ReadonlyMap<string, number>;
}

/** Send `tasks` of job `jobId`'s runnable tasks to node `nodeId` as one batch. */
export interface Assignment {
  nodeId: string;
  jobId: string;
  tasks: number;
}

export type Plan = Assignment[];

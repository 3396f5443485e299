/**
 * The shapes of the state database's rows as the store reads and writes
 * them, and a job's figures (JobStats) between its live record and its row.
 */
import type { JobReason } from '../jobs/job-reason.js';

export interface JobRow {
  id: number;
  name: string;
  user: string;
  request: string;
  state: string;
  reason: JobReason;
  error: string;
  tasks_total: number;
  tasks_done: number;
  attempts: number;
  cpu_ms: number;
  max_heap_mb: number;
  nodes: string;
  cores: number;
  submitted_at: number;
  started_at: number;
  ended_at: number;
  backups: number;
  backups_won: number;
}

export interface TaskRow {
  idx: number;
  input: Buffer;
  attempts: number;
  done: number;
  output: Buffer | null;
  /** A keyed job's finished map: the node holding its runs ('' otherwise). */
  node: string;
}

/**
 * A job's figures, carried from its tasks' results (the cluster's JobRecord)
 * to its row and back (`statsFromRow`). A new figure is a field here, its
 * column in STATS_COLUMNS and in ./schema.ts (with a migration), and where
 * the summary shows it.
 */
export interface JobStats {
  tasksDone: number;
  /** Task runs, retries and re-runs included. */
  attempts: number;
  /** Summed task run time. */
  cpuMs: number;
  /** The largest task heap seen. */
  maxHeapMb: number;
  /** Nodes that ran at least one task. */
  nodes: string[];
  /** Cores of those nodes. */
  cores: number;
  startedAt: number;
  endedAt: number;
  /** Backup copies of stragglers started (../jobs/backup-plan.ts). */
  backups: number;
  /** Backups that finished before the run they backed up. */
  backupsWon: number;
}

/** Each figure's column in the jobs table. */
const STATS_COLUMNS = {
  tasksDone: 'tasks_done',
  attempts: 'attempts',
  cpuMs: 'cpu_ms',
  maxHeapMb: 'max_heap_mb',
  nodes: 'nodes',
  cores: 'cores',
  startedAt: 'started_at',
  endedAt: 'ended_at',
  backups: 'backups',
  backupsWon: 'backups_won',
} as const satisfies Record<keyof JobStats, keyof JobRow>;

export const STATS = Object.entries(STATS_COLUMNS) as [keyof JobStats, keyof JobRow][];

/** The figures of a job that never ran. */
export const NO_STATS: JobStats = {
  tasksDone: 0,
  attempts: 0,
  cpuMs: 0,
  maxHeapMb: 0,
  nodes: [],
  cores: 0,
  startedAt: 0,
  endedAt: 0,
  backups: 0,
  backupsWon: 0,
};

/** A job's figures as statement parameters, named as the fields are (`@maxHeapMb`…). */
export function statsParams(stats: JobStats): Record<keyof JobStats, number | string> {
  return { ...stats, nodes: stats.nodes.join(',') };
}

/** A job's figures read back from its row. */
export function statsFromRow(row: JobRow): JobStats {
  const stats = Object.fromEntries(STATS.map(([field, column]) => [field, row[column]])) as unknown as JobStats & { nodes: unknown };
  return { ...stats, nodes: row.nodes ? row.nodes.split(',') : [] };
}

/** How a job ended: its state, why, and its figures and result. */
export interface JobEnd extends JobStats {
  state: string;
  reason: JobReason;
  error: string;
  result: Buffer | undefined;
}

/**
 * A job's own cap on tasks at once, cluster-wide (`--max-running N`, Slurm's
 * `--array=…%N`): for jobs that hammer a shared resource (a database, an API
 * with a rate limit) however many cores are free.
 */
import type { JobSnapshot } from './types.js';

/** How many more of the job's tasks may be placed, given `placed` already in this plan. */
export function headroom(job: Pick<JobSnapshot, 'maxRunning' | 'running'>, placed: number): number {
  if (!job.maxRunning) return Infinity;
  return Math.max(0, job.maxRunning - job.running - placed);
}

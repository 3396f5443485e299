/**
 * A keyed job read back after a coordinator restart: its finished maps' runs
 * are still on the agents' disks (an agent keeps them while the coordinator is
 * away, and keeps its node id across its own restarts), so rather than run
 * every map again, the coordinator asks each node which runs it holds
 * (../recovered-runs.ts). These are the job's steps for the answers: a map
 * whose runs are all there counts as done where it was, the others run again,
 * and so do those whose node did not come back within the grace period. Like
 * the record itself, nothing here does I/O.
 */
import type { LogLine } from '@picompute/sdk/wire';
import type { JobData } from './job-data.js';
import { IGNORED, notify } from './next.js';
import type { Next } from './next.js';

/** `node` (at `address`) holds the runs `held` of this job: maps with all theirs there are trusted, the rest run again. */
export function runsListed(job: JobData, node: string, address: string, held: ReadonlySet<string>): Next {
  if (!job.shuffle || job.final) return IGNORED;
  const { trusted, missing } = job.shuffle.confirm(node, address, held);
  if (trusted.length === 0 && missing.length === 0) return IGNORED;
  const logs = runAgain(job, missing, `its node ${node} no longer holds all of this map's runs`);
  if (trusted.length) {
    logs.push({
      task: -1,
      node: 'coordinator',
      line: `after the coordinator's restart, ${node} still holds the runs of ${trusted.length} map(s): they do not run again`,
    });
  }
  return notify(logs);
}

/** The maps still waiting for their node's word (on `node`, or on any node) run again, saying `why`. */
export function runsUnconfirmed(job: JobData, node: string | undefined, why: string): Next {
  if (!job.shuffle || job.final) return IGNORED;
  const lost = job.shuffle.unconfirmed(node);
  return lost.length ? notify(runAgain(job, lost, why)) : IGNORED;
}

/**
 * Maps done before the restart whose runs cannot be had go back to wait for
 * a node. Not a node loss: a restart does not spend the job's `maxNodeLosses`.
 */
function runAgain(job: JobData, indices: number[], why: string): LogLine[] {
  const logs: LogLine[] = [];
  for (const index of indices) {
    if (!job.done[index]) continue;
    job.done[index] = 0;
    job.doneCount--;
    job.retries++;
    job.pending.push(index);
    job.taskTable.set(index, 'PENDING');
    logs.push({ task: index, node: 'coordinator', line: `after the coordinator's restart, ${why}: the map runs again (attempt ${job.attempts[index]! + 1})` });
  }
  return logs;
}

/**
 * A task an agent reports it holds (it ran it for a coordinator that went
 * away: a restart, a takeover), taken over by this coordinator as running
 * there instead of queued again, when the job still waits for it: a map
 * task still pending, a fold's COMBINE whose group is ready, its REDUCE once
 * due. Anything else (done already, running elsewhere, a keyed job's task)
 * is not adopted, and its result will be ignored.
 */
import type { JobRecord } from './job-record.js';
import { taskKey } from './task-id.js';
import type { TaskId } from './task-id.js';

export function adoptTask(job: JobRecord, node: string, nodeCores: number, id: TaskId, attempt: number, now: number): boolean {
  if (job.final || job.shuffle || job.running.has(taskKey(id))) return false;
  if (id.kind === 'MAP') {
    if (id.index >= job.total || job.done[id.index] || !job.pending.remove(id.index)) return false;
    // The attempt a first run had is not stored: the next run after this one counts on from the agent's.
    job.attempts[id.index] = Math.max(job.attempts[id.index]!, attempt);
    job.taskTable.started(id.index, node, attempt, now);
  } else if (id.kind === 'COMBINE') {
    const at = job.fold?.ready.indexOf(id.index) ?? -1;
    if (at < 0) return false;
    job.fold!.ready.splice(at, 1);
  } else if (id.kind === 'REDUCE') {
    if (job.fold?.final !== 'pending') return false;
    job.fold.final = 'running';
  } else return false;
  job.running.set(taskKey(id), { id, node, attempt, since: now });
  if (!job.nodes.has(node)) {
    job.nodes.add(node);
    job.cores += nodeCores;
  }
  return true;
}

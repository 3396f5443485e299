/**
 * A task that found no room on its node's disk for its files (DISK_FULL: a
 * keyed map's sorted runs, a keyed reduce's fetched runs) is not the job's
 * fault: it runs again on another node, and the job sends that node no more
 * tasks (JobData.avoid, which the scheduler honours). Each such move counts
 * as a loss of the task with its node (`maxNodeLosses`); when no live node
 * is left to go to, the cluster fails the job with the disk's message.
 */
import type { JobData } from './job-data.js';
import { finish, notify } from './next.js';
import type { Next } from './next.js';
import { reduceLost } from './keyed-steps.js';
import { describeTask, toWire } from './task-id.js';
import type { TaskId } from './task-id.js';

export function offFullDisk(job: JobData, id: TaskId, node: string, message: string): Next {
  job.avoid.add(node);
  job.diskFullMessage = message;
  const why = `found no room on ${node}'s disk (${message})`;
  if (id.kind === 'KEYED_REDUCE') {
    const lost = reduceLost(job, id.index, why);
    if (lost) return lost;
  } else {
    const index = id.index;
    const max = job.maxNodeLosses;
    if (job.attempts[index]! >= max) {
      job.taskTable.set(index, 'FAILED');
      job.error = `${describeTask(id)} ${why}; that makes ${max} nodes without room, so the job gives up (raise \`maxNodeLosses\` to allow more)`;
      return finish('FAILED');
    }
    job.retries++;
    job.pending.push(index);
    job.taskTable.set(index, 'PENDING');
  }
  const line = `${describeTask(id)} ${why}: it runs again on another node, and this job sends ${node} no more tasks`;
  return notify([{ task: toWire(id), node: 'coordinator', line }]);
}

/** The job's message when every live node's disk has refused its files. */
export function noNodeLeft(job: JobData, nodes: readonly string[]): string {
  return `no node has room on its disk for this job's files (${nodes.join(', ')} refused them); last: ${job.diskFullMessage}`;
}

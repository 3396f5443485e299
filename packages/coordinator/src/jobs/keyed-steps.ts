/**
 * The steps of a keyed job's state machine that its phases add to a job's
 * (./job-record.ts calls them from its transitions): a lost node's or an
 * unfetchable node's maps run again, a reduce goes back to wait, stragglers
 * get backups, and this job's tasks on a node are given cores in the order
 * the agent runs them. Like the record itself, nothing here does I/O.
 */
import type { LogLine } from '@picompute/sdk/wire';
import type { JobData, TaskRun } from './job-data.js';
import { finish, notify } from './next.js';
import type { Next, StartedTask } from './next.js';
import { keyedReduceTask, taskKey, toWire } from './task-id.js';

/** This job's runs on `node` that have no core yet take the free ones, oldest first (see TaskRun.startedAt). */
export function estimateStarts(job: JobData, node: string, cores: number, now: number): void {
  // One pass without copies: while a job's task time is unknown its tasks go one per batch, and this runs for each
  // start and result over all its runs (8,000 over 1,000 agents: 9 % of the coordinator's time when it made arrays).
  let free = cores;
  let waiting: TaskRun[] | undefined;
  for (const runs of [job.running, job.backups]) {
    for (const r of runs.values()) {
      if (r.node !== node) continue;
      if (r.startedAt !== undefined) free--;
      else (waiting ??= []).push(r);
    }
  }
  if (!waiting || free <= 0) return;
  waiting.sort((a, b) => a.since - b.since);
  for (let i = 0; i < waiting.length && free > 0; i++, free--) waiting[i]!.startedAt = now;
}

/** Backups of stragglers that run elsewhere than `node` (./backup-plan.ts), up to `count`, added to `tasks`. */
export function startBackups(job: JobData, node: string, count: number, now: number, tasks: StartedTask[]): void {
  for (const run of job.backupsDue(now)) {
    if (count <= 0) break;
    if (run.node === node) continue;
    count--;
    const { id } = run;
    const attempt = id.kind === 'MAP' ? ++job.attempts[id.index]! : ++job.shuffle!.attempts[id.index]!;
    const input = id.kind === 'MAP' ? job.inputs.get(id.index) : job.shuffle!.planInput(id.index);
    job.backups.set(taskKey(id), { id, node, attempt, since: now });
    if (id.kind === 'MAP') job.taskTable.started(id.index, node, attempt, now);
    job.backupsRan++;
    tasks.push({ id, attempt, input, values: [] });
  }
}

/** A keyed reduce could not fetch runs from `from`: those maps run again, and the reduce once they have. */
export function refetch(job: JobData, partition: number, node: string, from: string, message: string): Next {
  const lost = reduceLost(job, partition, `could not fetch its input on ${node}: ${message}`);
  if (lost) return lost;
  // Only what this reduce's plan named: a reduce planned before maps ran again there fails late, about runs long replaced.
  const rerun = rerunMaps(job, from, `a reducer could not fetch their outputs from ${from}`, job.shuffle!.plannedAt(partition));
  if (!Array.isArray(rerun)) return rerun;
  const line = `could not fetch from ${from}; it runs again once the maps that were there have run again elsewhere (${message})`;
  return notify([{ task: toWire(keyedReduceTask(partition)), node: 'coordinator', line }, ...rerun]);
}

/** A keyed reduce did not finish: it waits to run again, or the job gives up on one lost too often. */
export function reduceLost(job: JobData, partition: number, why: string): Next | undefined {
  const shuffle = job.shuffle!;
  job.retries++;
  if (++shuffle.losses[partition]! >= job.maxNodeLosses) {
    job.error = `the reduce of partition ${partition} ${why}, ${shuffle.losses[partition]} times; giving up (raise \`maxNodeLosses\` to allow more)`;
    return finish('NODE_FAIL');
  }
  shuffle.reduceBack(partition);
  return undefined;
}

/**
 * The maps of a keyed job whose outputs were on `node` (located before
 * `plannedBefore`, on the shuffle plan's clock) and are still needed run
 * again (a log line each), or the job gives up.
 */
export function rerunMaps(job: JobData, node: string, why: string, plannedBefore?: number): LogLine[] | Next {
  const logs: LogLine[] = [];
  for (const p of job.shuffle!.forgetParts(node, plannedBefore)) {
    const line = `${why}, and partition ${p}'s finished part was on its disk: it is reduced again`;
    logs.push({ task: toWire(keyedReduceTask(p)), node: 'coordinator', line });
  }
  for (const index of job.shuffle!.forgetNode(node, plannedBefore)) {
    const max = job.maxNodeLosses;
    if (job.attempts[index]! >= max) {
      job.taskTable.set(index, 'NODE_FAIL');
      job.error = `task ${index}'s output was lost with its node ${max} times (last: ${node}); giving up (raise \`maxNodeLosses\` to allow more)`;
      return finish('NODE_FAIL');
    }
    job.done[index] = 0;
    job.doneCount--;
    job.retries++;
    job.pending.push(index);
    job.taskTable.set(index, 'PENDING');
    logs.push({
      task: index,
      node: 'coordinator',
      line: `${why}, and this map's output was there: it runs again (attempt ${job.attempts[index]! + 1} of ${max})`,
    });
  }
  return logs;
}

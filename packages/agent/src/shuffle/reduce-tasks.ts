/**
 * Runs a batch of keyed reduce tasks on this agent: each task's runs are
 * first brought onto this disk (./run-store.ts), then it runs on the pool
 * like any task. A task whose runs cannot all be fetched does not run: it
 * fails FETCH_FAILED naming the node, and the coordinator runs that node's
 * maps again and re-plans the reduce, rather than failing the job.
 */
import type { TaskOutcome } from '../batch.js';
import type { TaskPools } from '../pool.js';
import { runBatch } from '../run-batch.js';
import type { BatchRequest } from '../run-batch.js';
import type { ReducePlan, ShuffleRuns } from './run-store.js';

export async function runKeyedReduces(
  pools: TaskPools,
  shuffle: ShuffleRuns,
  req: BatchRequest,
  early: (outcomes: TaskOutcome[]) => void,
): Promise<TaskOutcome[]> {
  const outcomes = await Promise.all(
    req.tasks.map(async (task): Promise<TaskOutcome[]> => {
      let plan: ReducePlan;
      try {
        plan = JSON.parse(Buffer.from(task.input).toString('utf8')) as ReducePlan;
      } catch (err) {
        return [failed(task, 'THREW', `the coordinator sent a reduce plan this agent cannot read: ${(err as Error).message}`)];
      }
      const started = Date.now();
      const resolved = await shuffle.resolve(req.job.jobId, plan, req.signal);
      if (!resolved.ok) {
        if (!resolved.node) return [{ ...failed(task, resolved.diskFull ? 'DISK_FULL' : 'THREW', resolved.message), durationMs: Date.now() - started }];
        // Sent at once: the coordinator can start the lost maps again while the other reduces here go on.
        const outcome = { ...failed(task, 'FETCH_FAILED', resolved.message), durationMs: Date.now() - started };
        outcome.error!.fetchNode = resolved.node;
        early([outcome]);
        return [];
      }
      const fetchMs = Date.now() - started;
      try {
        const outcomes = await runBatch(pools, { ...req, tasks: [{ ...task, partition: plan.partition, runs: resolved.fds }] });
        // A reduce's time includes getting its runs: the coordinator weighs stragglers by it.
        for (const o of outcomes) o.durationMs += fetchMs;
        return outcomes;
      } finally {
        await resolved.cleanup();
      }
    }),
  );
  return outcomes.flat();
}

function failed(task: { index: number; attempt: number }, kind: 'THREW' | 'FETCH_FAILED' | 'DISK_FULL', message: string): TaskOutcome {
  return { index: task.index, attempt: task.attempt, ok: false, error: { kind, message, stack: '', inputPreview: '' }, logs: [], durationMs: 0, heapMb: 0 };
}

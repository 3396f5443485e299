/**
 * Runs one batch of a job's tasks on the pool and always returns one outcome
 * per task. When the worker call dies as a whole (time limit, heap limit,
 * process.exit in a task), the task the worker was on is blamed with a clear
 * message and the rest of the batch runs again without it.
 */
import type { JobSpec, TaskErrorKind, TaskInput } from '@picompute/sdk/wire';
import type { Batch, BatchTask, TaskOutcome } from './batch.js';
import type { TaskPools } from './pool.js';
import { failureMessage } from './failure-message.js';
import { previewBytes } from './preview.js';

export interface BatchRequest {
  job: JobSpec;
  bundlePath: string;
  /** The job's cached shared value, or '' without one. */
  sharedPath?: string;
  kind: TaskInput['kind'];
  tasks: BatchTask[];
  /** Aborted when the job is cancelled or the coordinator goes away: outcomes are then dropped. */
  signal: AbortSignal;
}

export async function runBatch(pools: TaskPools, req: BatchRequest): Promise<TaskOutcome[]> {
  const progress = new SharedArrayBuffer(16);
  const view = new Float64Array(progress);
  view[0] = -1;
  const call = new AbortController();
  const onCancel = () => call.abort(req.signal.reason);
  req.signal.addEventListener('abort', onCancel, { once: true });
  let timedOut = false;
  const watchdog = req.job.timeLimitMs > 0 ? watch(view, req.job.timeLimitMs, () => ((timedOut = true), call.abort())) : undefined;
  const batch: Batch = {
    bundlePath: req.bundlePath,
    sharedPath: req.sharedPath ?? '',
    jobId: req.job.jobId,
    kind: req.kind,
    args: req.job.args,
    timeLimitMs: req.job.timeLimitMs,
    tasks: req.tasks,
    progress,
  };
  try {
    return await pools.run(batch, req.job.memoryMb, Math.max(1, req.job.coresPerTask || 1), call.signal);
  } catch (err) {
    if (req.signal.aborted) return [];
    const culprit = Math.max(0, view[0]!);
    const task = req.tasks[culprit]!;
    const kind: TaskErrorKind = timedOut
      ? 'TIMEOUT'
      : (err as { code?: string }).code === 'ERR_WORKER_OUT_OF_MEMORY'
        ? 'OUT_OF_MEMORY'
        : 'WORKER_DIED';
    const blamed: TaskOutcome = {
      index: task.index,
      attempt: task.attempt,
      ok: false,
      error: { kind, message: failureMessage(kind, req.job, pools.options.memoryMb, err), stack: '', inputPreview: req.kind === 'MAP' ? previewBytes(task.input) : '' },
      logs: [],
      durationMs: view[1]! ? Date.now() - view[1]! : 0,
      heapMb: 0,
    };
    const rest = req.tasks.filter((_, i) => i !== culprit);
    return [blamed, ...(rest.length ? await runBatch(pools, { ...req, tasks: rest }) : [])];
  } finally {
    clearTimeout(watchdog?.timer);
    req.signal.removeEventListener('abort', onCancel);
  }
}

/**
 * Expires when the task the worker is on has run for `limitMs`. Reads the
 * worker's progress each time, so a batch of quick tasks never trips it.
 */
function watch(view: Float64Array, limitMs: number, expire: () => void): { timer?: NodeJS.Timeout } {
  const handle: { timer?: NodeJS.Timeout } = {};
  const check = () => {
    // Still queued behind other calls: look again soon.
    if (view[0]! < 0) return void (handle.timer = setTimeout(check, Math.min(limitMs, 1000)));
    const left = view[1]! + limitMs - Date.now();
    if (left <= 0) return expire();
    handle.timer = setTimeout(check, left);
  };
  handle.timer = setTimeout(check, Math.min(limitMs, 1000));
  return handle;
}

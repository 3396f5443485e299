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
import { OVER_LIMIT_SLOT } from './memory-guard.js';
import { childrenBuffer, killBatchChildren } from './task-processes.js';
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
  /** Where a keyed job's map tasks leave their runs, and how much they buffer before spilling. */
  shuffle?: { dir: string; spillBytes: number };
  /** Where chunk-reference inputs are read from (./chunk-input.ts). */
  chunkDir?: string;
}

/** How long a task whose ctx.signal has fired at its time limit may take to stop itself before its worker is terminated. */
const SIGNAL_GRACE_MS = 500;

export async function runBatch(pools: TaskPools, req: BatchRequest): Promise<TaskOutcome[]> {
  // Cancelled while the bundle was on its way: 'abort' has fired already and would never reach the call below,
  // so the tasks would run to their end on cores the coordinator has already given to the next job.
  if (req.signal.aborted) return [];
  const progress = new SharedArrayBuffer(24);
  const view = new Float64Array(progress);
  view[0] = -1;
  const children = childrenBuffer();
  const call = new AbortController();
  // Processes the tasks started go first, while the worker can still reap them; then the worker.
  let stopping = false;
  const stop = (reason?: unknown) => {
    if (stopping) return;
    stopping = true;
    void killBatchChildren(children).then(() => call.abort(reason));
  };
  const onCancel = () => stop(req.signal.reason);
  req.signal.addEventListener('abort', onCancel, { once: true });
  let timedOut = false;
  // The task's own ctx.signal fires at the limit; the watchdog stops the worker only if it has not stopped a moment later.
  const watchdog = req.job.timeLimitMs > 0 ? watch(view, req.job.timeLimitMs + SIGNAL_GRACE_MS, () => ((timedOut = true), stop())) : undefined;
  // The worker flags a task past its memory limit off the heap; stopping the worker frees what the task still holds.
  const memoryWatch = setInterval(() => view[OVER_LIMIT_SLOT]! > 0 && stop(), 50);
  const memoryMb = req.job.memoryMb || pools.options.memoryMb;
  const batch: Batch = {
    bundlePath: req.bundlePath,
    sharedPath: req.sharedPath ?? '',
    jobId: req.job.jobId,
    kind: req.kind,
    args: req.job.args,
    timeLimitMs: req.job.timeLimitMs,
    memoryMb,
    tasks: req.tasks,
    progress,
    children,
    partitions: req.job.partitions ?? 0,
    shuffleDir: req.shuffle?.dir,
    spillBytes: req.shuffle?.spillBytes,
    chunkDir: req.chunkDir,
  };
  try {
    return await pools.run(batch, req.job.memoryMb, Math.max(1, req.job.coresPerTask || 1), call.signal);
  } catch (err) {
    // The worker died under its tasks' children (or we stopped it): none may outlive it.
    await killBatchChildren(children, 0);
    if (req.signal.aborted) return [];
    const overMemory = view[OVER_LIMIT_SLOT]! > 0;
    const culprit = overMemory ? view[OVER_LIMIT_SLOT]! - 1 : Math.max(0, view[0]!);
    const task = req.tasks[culprit]!;
    const kind: TaskErrorKind = timedOut
      ? 'TIMEOUT'
      : overMemory || (err as { code?: string }).code === 'ERR_WORKER_OUT_OF_MEMORY'
        ? 'OUT_OF_MEMORY'
        : 'WORKER_DIED';
    const blamed: TaskOutcome = {
      index: task.index,
      attempt: task.attempt,
      ok: false,
      error: {
        kind,
        message: failureMessage(kind, req.job, pools.options.memoryMb, err),
        stack: '',
        inputPreview: req.kind === 'MAP' ? previewBytes(task.input) : '',
      },
      logs: [],
      durationMs: view[1]! ? Date.now() - view[1]! : 0,
      heapMb: 0,
    };
    const rest = req.tasks.filter((_, i) => i !== culprit);
    return [blamed, ...(rest.length ? await runBatch(pools, { ...req, tasks: rest }) : [])];
  } finally {
    clearTimeout(watchdog?.timer);
    clearInterval(memoryWatch);
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

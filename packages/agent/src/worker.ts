/**
 * The piscina worker: imports a job bundle (once per worker) and runs a batch
 * of its tasks one after the other, so tiny tasks cost one thread hop per
 * batch rather than per task.
 */
import { format } from 'node:util';
import { getHeapStatistics } from 'node:v8';
import { threadId } from 'node:worker_threads';
import { pathToFileURL } from 'node:url';
import { decode, encode } from '@picompute/sdk/codec';
import { jobProblem, isFoldJob } from '@picompute/sdk';
import { MAX_VALUE_BYTES } from '@picompute/sdk/wire';
import type { Job, TaskContext } from '@picompute/sdk';
import type { Batch, BatchTask, TaskOutcome } from './batch.js';
import { failureMessage } from './failure-message.js';
import { previewValue } from './preview.js';

// Stack traces of job code point at the user's job.ts through the bundle's inline source map.
process.setSourceMapsEnabled(true);

const jobs = new Map<string, Promise<Job>>();

/** This worker's own V8 heap (an isolate per worker thread), MiB. */
const heapMb = () => getHeapStatistics().used_heap_size / 1048576;

function loadJob(bundlePath: string): Promise<Job> {
  let job = jobs.get(bundlePath);
  if (!job) {
    job = import(pathToFileURL(bundlePath).href).then((mod: { default?: unknown }) => {
      const problem = jobProblem(mod.default);
      if (problem) throw new Error(`the job bundle is not a picompute job: ${problem}`);
      return mod.default as Job;
    });
    jobs.set(bundlePath, job);
  }
  return job;
}

/** Lines logged by the running task; console.* inside a task goes here too. */
let taskLogs: string[] | undefined;
for (const level of ['log', 'info', 'warn', 'error', 'debug'] as const) {
  const original = console[level].bind(console);
  console[level] = (...parts: unknown[]) => (taskLogs ? taskLogs.push(format(...parts)) : original(...parts));
}

const WORKER_FRAME = new URL(import.meta.url).pathname;

/** Keeps the frames of the user's code; drops this worker's and Node's internals. */
function userStack(err: unknown): string {
  const stack = err instanceof Error ? (err.stack ?? '') : '';
  return stack
    .split('\n')
    .filter((line) => !line.includes(WORKER_FRAME) && !line.includes('node:internal') && !line.includes('/piscina/'))
    .join('\n');
}

function errorMessage(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return `a non-Error value was thrown: ${previewValue(err)}`;
}

async function runTask(job: Job, batch: Batch, task: BatchTask): Promise<TaskOutcome> {
  const logs: string[] = [];
  const started = performance.now();
  const controller = new AbortController();
  // Lets an async task stop itself cleanly; a task that never yields is stopped by the main thread's watchdog.
  const timer = batch.timeLimitMs > 0 ? setTimeout(() => controller.abort(new Error('time limit reached')), batch.timeLimitMs) : undefined;
  let input: unknown;
  taskLogs = logs;
  try {
    let output: unknown;
    if (batch.kind !== 'MAP') {
      if (!isFoldJob(job)) throw new Error(`a ${batch.kind} task was sent for a job without reduce`);
      let acc: unknown = structuredClone(job.initial);
      for (const bytes of task.values) acc = await job.reduce(acc, decode(bytes));
      output = batch.kind === 'REDUCE' && job.finalize ? await job.finalize(acc, batch.args) : acc;
    } else {
      input = decode(task.input);
      const ctx: TaskContext = {
        index: task.index,
        attempt: task.attempt,
        signal: controller.signal,
        args: batch.args,
        log: (...parts: unknown[]) => logs.push(format(...parts)),
      };
      output = await job.map(input, ctx);
    }
    const bytes = encode(output);
    if (bytes.length > MAX_VALUE_BYTES) {
      throw new Error(`its output is ${(bytes.length / 1048576).toFixed(1)} MiB encoded; a task's output must stay under ${MAX_VALUE_BYTES / 1048576} MiB: return less, or split the work into more tasks`);
    }
    return { index: task.index, attempt: task.attempt, ok: true, output: bytes, logs, durationMs: performance.now() - started, heapMb: heapMb() };
  } catch (err) {
    const timedOut = controller.signal.aborted;
    return {
      index: task.index,
      attempt: task.attempt,
      ok: false,
      error: {
        kind: timedOut ? 'TIMEOUT' : 'THREW',
        message: timedOut ? failureMessage('TIMEOUT', { timeLimitMs: batch.timeLimitMs, memoryMb: 0 }, 0) : errorMessage(err),
        stack: userStack(err),
        inputPreview: batch.kind === 'MAP' ? previewValue(input) : `${task.values.length} map outputs`,
      },
      logs,
      durationMs: performance.now() - started,
      heapMb: heapMb(),
    };
  } finally {
    taskLogs = undefined;
    clearTimeout(timer);
  }
}

export default async function runBatch(batch: Batch): Promise<TaskOutcome[]> {
  const progress = new Float64Array(batch.progress);
  let job: Job;
  try {
    job = await loadJob(batch.bundlePath);
  } catch (err) {
    jobs.delete(batch.bundlePath);
    const message = `cannot load the job on this agent: ${errorMessage(err)}`;
    return batch.tasks.map((t) => ({
      index: t.index,
      attempt: t.attempt,
      ok: false,
      error: { kind: 'BUNDLE', message, stack: userStack(err), inputPreview: '' },
      logs: [],
      durationMs: 0,
      heapMb: 0,
    }));
  }
  const outcomes: TaskOutcome[] = [];
  for (let i = 0; i < batch.tasks.length; i++) {
    const startedAtMs = (progress[1] = Date.now());
    progress[0] = i;
    const outcome = await runTask(job, batch, batch.tasks[i]!);
    // Where and when it ran: the dashboard's task stream and `picompute trace` draw one track per thread.
    outcome.thread = threadId;
    outcome.startedAtMs = startedAtMs;
    outcomes.push(outcome);
  }
  return outcomes;
}

/**
 * The piscina worker: imports a job bundle (once per worker) and runs a batch
 * of its tasks one after the other, so tiny tasks cost one thread hop per
 * batch rather than per task.
 */
import { readFileSync } from 'node:fs';
import { format } from 'node:util';
import { getHeapStatistics } from 'node:v8';
import { threadId } from 'node:worker_threads';
import { pathToFileURL } from 'node:url';
import { decode, encode } from '@picompute/sdk/codec';
import { jobProblem, isFoldJob } from '@picompute/sdk';
import { DiskFullError, keyedMap, keyedReduce } from './shuffle/keyed-tasks.js';
import { mapInput } from './chunk-input.js';
import { MAX_VALUE_BYTES } from '@picompute/sdk/wire';
import type { Job, TaskContext } from '@picompute/sdk';
import type { Batch, BatchTask, TaskOutcome } from './batch.js';
import { packOutcomes, unpackTasks } from './batch-packing.js';
import type { PackedOutcomes, WorkerBatch } from './batch-packing.js';
import { failureMessage, outOfMemoryMessage, outputTooBigMessage } from './failure-message.js';
import { installSpawnHook, trackTaskChildren } from './task-children.js';
import { OVER_LIMIT_SLOT, guardTask, installBufferHooks, overran } from './memory-guard.js';
import { previewValue } from './preview.js';

// Stack traces of job code point at the user's job.ts through the bundle's inline source map.
process.setSourceMapsEnabled(true);

installBufferHooks();
installSpawnHook();

const jobs = new Map<string, Promise<Job>>();

/**
 * This isolate's heap statistics (an isolate per worker thread), read once
 * per task boundary: the reading that gives a task its heap figure is also
 * the next task's memory baseline (nothing runs between them). A reading
 * costs a few µs in a busy worker, a tenth of a tiny task.
 */
let stats = getHeapStatistics();
/** Reads the statistics now; the heap in use, MiB. */
const heapMb = () => (stats = getHeapStatistics()).used_heap_size / 1048576;

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

/**
 * The job's shared value, decoded once per worker thread (threads share no
 * heap) and kept while batches of the same job follow; a new one replaces it,
 * so an agent running job after job does not hold every old value.
 */
let shared: { path: string; value: unknown } | undefined;
function loadShared(path: string): unknown {
  if (!path) return undefined;
  if (shared?.path !== path) shared = { path, value: decode(readFileSync(path)) };
  return shared.value;
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

async function runTask(job: Job, batch: Batch, task: BatchTask, progress: Float64Array, ordinal: number): Promise<TaskOutcome> {
  const endGuard = guardTask(batch.memoryMb, progress, ordinal, stats.external_memory);
  const endChildren = trackTaskChildren(new Int32Array(batch.children));
  const logs: string[] = [];
  const started = performance.now();
  const limitMs = batch.timeLimitMs;
  // Lets an async task stop itself cleanly; a task that never yields is stopped by the main thread's watchdog.
  // Made when the task first reads ctx.signal: a controller and a timer per task cost tiny tasks a third of their time.
  let controller: AbortController | undefined;
  let timer: NodeJS.Timeout | undefined;
  const signal = () => {
    if (!controller) {
      const c = (controller = new AbortController());
      if (limitMs > 0) timer = setTimeout(() => c.abort(new Error('time limit reached')), Math.max(0, limitMs - (performance.now() - started)));
    }
    return controller.signal;
  };
  const context = (): TaskContext => ({
    index: task.index,
    attempt: task.attempt,
    get signal() {
      return signal();
    },
    args: batch.args,
    log: (...parts: unknown[]) => logs.push(format(...parts)),
    shared: loadShared(batch.sharedPath),
  });
  let input: unknown;
  taskLogs = logs;
  try {
    let output: unknown;
    let bytes: Uint8Array | undefined;
    if (batch.kind === 'KEYED_REDUCE') {
      // The part is on this disk; the coordinator reads the note of where (JSON, like a map's manifest).
      bytes = Buffer.from(JSON.stringify(await keyedReduce(job, batch, task, logs, loadShared(batch.sharedPath))));
    } else if (batch.kind === 'MAP' && batch.partitions) {
      input = mapInput(task.input, batch.chunkDir);
      // The manifest is read by the coordinator, which never decodes task values: JSON.
      bytes = Buffer.from(JSON.stringify(await keyedMap(job, batch, task, input, context())));
    } else if (batch.kind !== 'MAP') {
      if (!isFoldJob(job)) throw new Error(`a ${batch.kind} task was sent for a job without reduce`);
      let acc: unknown = structuredClone(job.initial);
      for (const bytes of task.values) acc = await job.reduce(acc, decode(bytes));
      output = batch.kind === 'REDUCE' && job.finalize ? await job.finalize(acc, batch.args) : acc;
    } else {
      input = mapInput(task.input, batch.chunkDir);
      // Not a keyed job (those went above): its map takes a plain TaskContext.
      output = await (job.map as (input: unknown, ctx: TaskContext) => unknown)(input, context());
    }
    // The task may have caught the overrun and carried on: it still failed.
    if (overran()) throw new Error(outOfMemoryMessage(batch.memoryMb));
    bytes ??= encode(output);
    if (bytes.length > MAX_VALUE_BYTES) {
      throw new Error(outputTooBigMessage(bytes.length, MAX_VALUE_BYTES));
    }
    return { index: task.index, attempt: task.attempt, ok: true, output: bytes, logs, durationMs: performance.now() - started, heapMb: heapMb() };
  } catch (err) {
    const timedOut = controller ? controller.signal.aborted : limitMs > 0 && performance.now() - started >= limitMs;
    const overMemory = overran();
    return {
      index: task.index,
      attempt: task.attempt,
      ok: false,
      error: {
        kind: overMemory ? 'OUT_OF_MEMORY' : timedOut ? 'TIMEOUT' : err instanceof DiskFullError ? 'DISK_FULL' : 'THREW',
        message: overMemory
          ? outOfMemoryMessage(batch.memoryMb)
          : timedOut
            ? failureMessage('TIMEOUT', { timeLimitMs: batch.timeLimitMs, memoryMb: 0 }, 0)
            : err instanceof DiskFullError
              ? err.message
              : errorMessage(err),
        stack: overMemory ? '' : userStack(err),
        inputPreview:
          batch.kind === 'MAP' ? previewValue(input) : batch.kind === 'KEYED_REDUCE' ? `partition ${task.partition}` : `${task.values.length} map outputs`,
      },
      logs,
      durationMs: performance.now() - started,
      heapMb: heapMb(),
    };
  } finally {
    taskLogs = undefined;
    clearTimeout(timer);
    endGuard();
    const ending = endChildren();
    if (ending) await ending;
  }
}

/** Outputs from this size on are moved to the main thread, not copied (see `moved`). */
const MOVE_OUTPUTS_BYTES = 1024 * 1024;

export default async function runPackedBatch(call: WorkerBatch): Promise<PackedOutcomes> {
  const packed = packOutcomes(await runBatch({ ...call, tasks: unpackTasks(call.tasks) }), threadId);
  return packed.outputs.byteLength >= MOVE_OUTPUTS_BYTES ? moved(packed) : packed;
}

/**
 * The outcomes with their outputs' buffer handed over to the main thread
 * instead of cloned: a clone is copied again on the main thread, where 90 MiB
 * of outputs held the agent's heartbeats back for most of a second on a slow
 * core. piscina loads only for a batch that needs it (it is not small).
 */
async function moved(packed: PackedOutcomes): Promise<PackedOutcomes> {
  const { move, transferableSymbol, valueSymbol } = await import('piscina');
  const transferable = { [transferableSymbol]: [packed.outputs.buffer], [valueSymbol]: packed };
  // piscina's worker sends `valueSymbol`'s value, transferring what `transferableSymbol` lists; its types cannot say so.
  return move(transferable as unknown as Parameters<typeof move>[0]) as unknown as PackedOutcomes;
}

async function runBatch(batch: Batch): Promise<TaskOutcome[]> {
  const progress = new Float64Array(batch.progress);
  // The worker waited for this batch: its memory baseline is read afresh.
  stats = getHeapStatistics();
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
    const outcome = await runTask(job, batch, batch.tasks[i]!, progress, i);
    // When it ran (and, from packOutcomes, on which thread): the dashboard's task stream and `picompute trace` draw one track per thread.
    outcome.startedAtMs = startedAtMs;
    outcomes.push(outcome);
    // A task went over its memory limit: end this thread, so what it gathered
    // goes with it rather than counting against the next task here. The main
    // thread blames that task and runs the rest of the batch again.
    if (progress[OVER_LIMIT_SLOT]) process.exit(1);
  }
  return outcomes;
}

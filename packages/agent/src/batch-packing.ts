/**
 * A batch's tasks and outcomes as they cross between the agent's main thread
 * and a worker: a few typed arrays instead of an object per task. Cloning
 * (postMessage) an object with a Uint8Array costs ~2 µs per task each way,
 * and an outcome ~3 µs: for W1's tiny tasks that was a third of the main
 * thread's time per task. Typed arrays clone as one copy of their bytes.
 *
 * Inputs and outputs are packed end to end with their end offsets; failures
 * and log lines, which few tasks have, ride beside as objects.
 */
import type { Batch, BatchTask, TaskOutcome } from './batch.js';

/** A batch as a worker call takes it. */
export type WorkerBatch = Omit<Batch, 'tasks'> & { tasks: PackedTasks };

export interface PackedTasks {
  index: Float64Array;
  attempt: Uint32Array;
  /** The MAP inputs end to end; `inputEnds[i]` is where task i's ends. */
  inputs: Uint8Array;
  inputEnds: Uint32Array;
  /** Fold steps (one task a batch): each task's map outputs, as they are. */
  values?: Uint8Array[][];
  /** Keyed reduces (few a batch): each task's partition and the descriptors of its runs. */
  keyed?: { partition?: number; runs?: number[] }[];
}

export interface PackedOutcomes {
  index: Float64Array;
  attempt: Uint32Array;
  ok: Uint8Array;
  outputs: Uint8Array;
  outputEnds: Uint32Array;
  durationMs: Float64Array;
  heapMb: Float64Array;
  startedAtMs: Float64Array;
  /** The worker thread that ran them all. */
  thread: number;
  /** The failures and log lines of the tasks that have any, by position in the batch. */
  extras: { at: number; error?: TaskOutcome['error']; logs: string[] }[];
}

/** Copies `parts` end to end into one buffer of its own (so it can be transferred), with their end offsets. */
function concat(parts: readonly (Uint8Array | undefined)[]): { bytes: Uint8Array; ends: Uint32Array } {
  const ends = new Uint32Array(parts.length);
  let total = 0;
  for (let i = 0; i < parts.length; i++) ends[i] = total += parts[i]?.byteLength ?? 0;
  const bytes = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    if (!p?.byteLength) continue;
    bytes.set(p, at);
    at += p.byteLength;
  }
  return { bytes, ends };
}

function views(bytes: Uint8Array, ends: Uint32Array): Buffer[] {
  const all = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: Buffer[] = new Array(ends.length);
  let from = 0;
  for (let i = 0; i < ends.length; i++) {
    out[i] = all.subarray(from, ends[i]);
    from = ends[i]!;
  }
  return out;
}

export function packTasks(tasks: readonly BatchTask[]): PackedTasks {
  const n = tasks.length;
  const index = new Float64Array(n);
  const attempt = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    index[i] = tasks[i]!.index;
    attempt[i] = tasks[i]!.attempt;
  }
  const { bytes, ends } = concat(tasks.map((t) => t.input));
  const packed: PackedTasks = { index, attempt, inputs: bytes, inputEnds: ends };
  if (tasks.some((t) => t.values.length)) packed.values = tasks.map((t) => t.values);
  if (tasks.some((t) => t.runs)) packed.keyed = tasks.map(({ partition, runs }) => ({ partition, runs }));
  return packed;
}

export function unpackTasks(p: PackedTasks): BatchTask[] {
  const inputs = views(p.inputs, p.inputEnds);
  return inputs.map((input, i) => ({ index: p.index[i]!, attempt: p.attempt[i]!, input, values: p.values?.[i] ?? [], ...p.keyed?.[i] }));
}

export function packOutcomes(outcomes: readonly TaskOutcome[], thread: number): PackedOutcomes {
  const n = outcomes.length;
  const p: PackedOutcomes = {
    index: new Float64Array(n),
    attempt: new Uint32Array(n),
    ok: new Uint8Array(n),
    outputs: new Uint8Array(0),
    outputEnds: new Uint32Array(0),
    durationMs: new Float64Array(n),
    heapMb: new Float64Array(n),
    startedAtMs: new Float64Array(n),
    thread,
    extras: [],
  };
  for (let i = 0; i < n; i++) {
    const o = outcomes[i]!;
    p.index[i] = o.index;
    p.attempt[i] = o.attempt;
    p.ok[i] = o.ok ? 1 : 0;
    p.durationMs[i] = o.durationMs;
    p.heapMb[i] = o.heapMb;
    p.startedAtMs[i] = o.startedAtMs ?? 0;
    if (o.error || o.logs.length) p.extras.push({ at: i, error: o.error, logs: o.logs });
  }
  const { bytes, ends } = concat(outcomes.map((o) => o.output));
  p.outputs = bytes;
  p.outputEnds = ends;
  return p;
}

export function unpackOutcomes(p: PackedOutcomes): TaskOutcome[] {
  const outputs = views(p.outputs, p.outputEnds);
  const outcomes: TaskOutcome[] = outputs.map((output, i) => ({
    index: p.index[i]!,
    attempt: p.attempt[i]!,
    ok: p.ok[i] === 1,
    output: p.ok[i] === 1 ? output : undefined,
    logs: [],
    durationMs: p.durationMs[i]!,
    heapMb: p.heapMb[i]!,
    thread: p.thread,
    startedAtMs: p.startedAtMs[i]!,
  }));
  for (const { at, error, logs } of p.extras) {
    const o = outcomes[at]!;
    o.logs = logs;
    if (error) o.error = error;
  }
  return outcomes;
}

/**
 * Tiny tasks and their results as one bytes field per Work message instead
 * of a protobuf message each (Assign.packed_tasks, Results.packed). For W1's
 * tiny tasks, building, encoding, decoding and rebuilding ~1,000 TaskInput
 * and TaskResult objects per message was most of the agent's main thread
 * and a sixth of the coordinator's; a fixed-size record per task with the
 * bytes end to end after them is read and written in a plain loop.
 *
 * Only what most tasks are goes packed: MAP tasks without fold values, and
 * results that succeeded without log lines. Everything else travels as it
 * did, and so does everything to and from a peer that does not say it reads
 * this (AgentInfo.packed_work; the agent answers packed only after a packed
 * Assign), so daemons of different versions still work together.
 *
 * Layout (little endian): u32 count, then `count` fixed records, then the
 * inputs (or outputs) end to end in task order.
 *   task record:   i32 index, u32 attempt, u32 input bytes
 *   result record: i32 index, u32 attempt, u32 thread, u32 output bytes, f64 durationMs, f64 heapMb, f64 startedAtMs
 */
import type { TaskInput, TaskResult } from './messages.js';

const TASK_RECORD = 12;
const RESULT_RECORD = 40;

/** Whether `tasks` can go as Assign.packed_tasks (all MAP tasks without values). */
export function packableTasks(tasks: readonly TaskInput[]): boolean {
  for (const t of tasks) if (t.kind !== 'MAP' || t.values?.length) return false;
  return tasks.length > 0;
}

/** Whether a result can go in Results.packed (it succeeded and logged nothing). */
export function packableResult(r: TaskResult): boolean {
  return r.ok && !r.error && r.logs.length === 0;
}

export function packTasks(tasks: readonly TaskInput[]): Buffer {
  let bytes = 0;
  for (const t of tasks) bytes += t.input.length;
  const head = 4 + tasks.length * TASK_RECORD;
  const out = Buffer.allocUnsafe(head + bytes);
  out.writeUInt32LE(tasks.length, 0);
  let rec = 4;
  let at = head;
  for (const t of tasks) {
    out.writeInt32LE(t.index, rec);
    out.writeUInt32LE(t.attempt, rec + 4);
    out.writeUInt32LE(t.input.length, rec + 8);
    rec += TASK_RECORD;
    at += t.input.copy(out, at);
  }
  return out;
}

/** The tasks of a packed_tasks field; their inputs are views into `packed`, not copies. */
export function unpackTasks(packed: Buffer): TaskInput[] {
  const n = readCount(packed, TASK_RECORD, 'packed_tasks');
  const tasks: TaskInput[] = new Array(n);
  let rec = 4;
  let at = 4 + n * TASK_RECORD;
  for (let i = 0; i < n; i++) {
    const end = at + packed.readUInt32LE(rec + 8);
    if (end > packed.length) throw new Error(`packed_tasks is cut short: task ${i}'s input ends past the field's ${packed.length} bytes`);
    tasks[i] = { index: packed.readInt32LE(rec), attempt: packed.readUInt32LE(rec + 4), kind: 'MAP', input: packed.subarray(at, end), values: [] };
    rec += TASK_RECORD;
    at = end;
  }
  return tasks;
}

/** Packs results that `packableResult` passed (of one job: the job id goes beside them). */
export function packResults(results: readonly TaskResult[]): Buffer {
  const out = Buffer.allocUnsafe(packedResultsBytes(results));
  writePackedResults(results, out, 0);
  return out;
}

/** The bytes `packResults` makes of `results`. */
export function packedResultsBytes(results: readonly TaskResult[]): number {
  let bytes = 4 + results.length * RESULT_RECORD;
  for (const r of results) bytes += r.output.length;
  return bytes;
}

/** Writes what `packResults` makes into `out` at `from` (./results-message.ts writes it straight into a message). */
export function writePackedResults(results: readonly TaskResult[], out: Buffer, from: number): void {
  out.writeUInt32LE(results.length, from);
  let rec = from + 4;
  let at = from + 4 + results.length * RESULT_RECORD;
  for (const r of results) {
    out.writeInt32LE(r.index, rec);
    out.writeUInt32LE(r.attempt, rec + 4);
    out.writeUInt32LE(r.thread, rec + 8);
    out.writeUInt32LE(r.output.length, rec + 12);
    out.writeDoubleLE(r.durationMs, rec + 16);
    out.writeDoubleLE(r.heapMb, rec + 24);
    out.writeDoubleLE(r.startedAtMs, rec + 32);
    rec += RESULT_RECORD;
    at += r.output.copy(out, at);
  }
}

/** The results of one PackedResults entry; their outputs are views into `packed`, not copies. */
export function unpackResults(jobId: string, packed: Buffer): TaskResult[] {
  const n = readCount(packed, RESULT_RECORD, 'packed results');
  const results: TaskResult[] = new Array(n);
  let rec = 4;
  let at = 4 + n * RESULT_RECORD;
  for (let i = 0; i < n; i++) {
    const end = at + packed.readUInt32LE(rec + 12);
    if (end > packed.length) throw new Error(`packed results are cut short: result ${i}'s output ends past the field's ${packed.length} bytes`);
    results[i] = {
      jobId,
      index: packed.readInt32LE(rec),
      attempt: packed.readUInt32LE(rec + 4),
      ok: true,
      output: packed.subarray(at, end),
      error: null,
      logs: [],
      durationMs: packed.readDoubleLE(rec + 16),
      heapMb: packed.readDoubleLE(rec + 24),
      thread: packed.readUInt32LE(rec + 8),
      startedAtMs: packed.readDoubleLE(rec + 32),
    };
    rec += RESULT_RECORD;
    at = end;
  }
  return results;
}

function readCount(packed: Buffer, record: number, what: string): number {
  if (packed.length < 4) throw new Error(`${what} is ${packed.length} bytes, too short for its count`);
  const n = packed.readUInt32LE(0);
  if (4 + n * record > packed.length) throw new Error(`${what} says ${n} entries but holds ${packed.length} bytes, too few for their records`);
  return n;
}

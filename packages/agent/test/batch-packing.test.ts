/** A batch packed for a worker call and its outcomes packed back read as they were, after a real postMessage. */
import { MessageChannel, receiveMessageOnPort } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import type { BatchTask, TaskOutcome } from '../src/batch.js';
import { packOutcomes, packTasks, unpackOutcomes, unpackTasks } from '../src/batch-packing.js';

/** Through a real MessageChannel, as piscina sends it. */
function cloned<T>(value: T, transfer: ArrayBuffer[] = []): T {
  const { port1, port2 } = new MessageChannel();
  port1.postMessage(value, transfer);
  const got = receiveMessageOnPort(port2)!.message as T;
  port1.close();
  return got;
}

const bytes = (b: Uint8Array | undefined) => (b ? [...b] : undefined);

describe('batch packing', () => {
  it('tasks: indices, attempts and inputs (empty ones too) come out as they went in; the inputs move without a copy', () => {
    const shared = Buffer.from('abcdefghij');
    const tasks: BatchTask[] = [
      { index: 7, attempt: 1, input: shared.subarray(2, 5), values: [] },
      { index: 4_000_000_000, attempt: 3, input: Buffer.alloc(0), values: [] },
      { index: 9, attempt: 2, input: Buffer.from([0, 255, 1]), values: [] },
    ];
    const packed = packTasks(tasks);
    const back = unpackTasks(cloned(packed, [packed.inputs.buffer as ArrayBuffer]));
    expect(packed.inputs.byteLength).toBe(0);
    expect(back.map((t) => [t.index, t.attempt, bytes(t.input), t.values])).toEqual([
      [7, 1, [...Buffer.from('cde')], []],
      [4_000_000_000, 3, [], []],
      [9, 2, [0, 255, 1], []],
    ]);
  });

  it("a fold step's values ride as they are", () => {
    const values = [Buffer.from([1]), Buffer.from([2, 3])];
    const [task] = unpackTasks(cloned(packTasks([{ index: -1, attempt: 1, input: Buffer.alloc(0), values }])));
    expect(task!.values.map(bytes)).toEqual([[1], [2, 3]]);
  });

  it("a keyed reduce's partition and run descriptors ride along (without them the reduce reads nothing)", () => {
    const tasks: BatchTask[] = [
      { index: 0, attempt: 1, input: Buffer.alloc(0), values: [], partition: 3, runs: [21, 22] },
      { index: 1, attempt: 2, input: Buffer.alloc(0), values: [], partition: 0, runs: [] },
    ];
    const back = unpackTasks(cloned(packTasks(tasks)));
    expect(back.map((t) => [t.partition, t.runs])).toEqual([
      [3, [21, 22]],
      [0, []],
    ]);
  });

  it('outcomes: outputs, failures, log lines and figures come back on the right task', () => {
    const error = { kind: 'THREW' as const, message: 'Error: no', stack: 'at map (job.ts:3:9)', inputPreview: '3' };
    const outcomes: TaskOutcome[] = [
      { index: 0, attempt: 1, ok: true, output: Buffer.from([5, 6]), logs: [], durationMs: 0.25, heapMb: 4.5, startedAtMs: 1700000000000 },
      { index: 1, attempt: 2, ok: false, error, logs: ['before it threw'], durationMs: 1, heapMb: 5, startedAtMs: 1700000000001 },
      { index: 2, attempt: 1, ok: true, output: Buffer.alloc(0), logs: ['a', 'b'], durationMs: 2, heapMb: 6, startedAtMs: 1700000000002 },
    ];
    const back = unpackOutcomes(cloned(packOutcomes(outcomes, 12)));
    expect(back.map((o) => ({ ...o, output: bytes(o.output) }))).toEqual([
      { index: 0, attempt: 1, ok: true, output: [5, 6], logs: [], durationMs: 0.25, heapMb: 4.5, startedAtMs: 1700000000000, thread: 12 },
      {
        index: 1,
        attempt: 2,
        ok: false,
        output: undefined,
        error,
        logs: ['before it threw'],
        durationMs: 1,
        heapMb: 5,
        startedAtMs: 1700000000001,
        thread: 12,
      },
      { index: 2, attempt: 1, ok: true, output: [], logs: ['a', 'b'], durationMs: 2, heapMb: 6, startedAtMs: 1700000000002, thread: 12 },
    ]);
  });
});

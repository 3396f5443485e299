import { describe, expect, it } from 'vitest';
import {
  encodePackedResultsMessage,
  packResults,
  packTasks,
  packableResult,
  packableTasks,
  unpackResults,
  unpackTasks,
  wireServices,
} from '../src/wire/index.js';
import type { TaskInput, TaskResult } from '../src/wire/index.js';

const task = (index: number, input: string): TaskInput => ({ index, attempt: 2, kind: 'MAP', input: Buffer.from(input), values: [] });
const result = (index: number, output: string): TaskResult => ({
  jobId: '7',
  index,
  attempt: 1,
  ok: true,
  output: Buffer.from(output),
  error: null,
  logs: [],
  durationMs: 0.25,
  heapMb: 4.5,
  thread: 3,
  startedAtMs: 1_700_000_000_123,
});

describe('packed Work messages', () => {
  it('gives back the tasks and results that went in, empty inputs and negative indices included', () => {
    const tasks = [task(0, 'a'), task(-5, ''), task(2_000_000_000, 'x'.repeat(1000))];
    expect(unpackTasks(packTasks(tasks))).toEqual(tasks);
    const results = [result(0, 'out'), result(-1, ''), result(9, 'é')];
    expect(unpackResults('7', packResults(results))).toEqual(results);
  });

  it('packs only plain map tasks and results that succeeded without log lines', () => {
    expect(packableTasks([task(0, 'a')])).toBe(true);
    expect(packableTasks([task(0, 'a'), { ...task(1, ''), kind: 'REDUCE', values: [Buffer.from('v')] }])).toBe(false);
    expect(packableTasks([])).toBe(false);
    expect(packableResult(result(0, 'o'))).toBe(true);
    expect(packableResult({ ...result(0, 'o'), logs: ['hello'] })).toBe(false);
    expect(packableResult({ ...result(0, ''), ok: false, error: { kind: 'THREW', message: 'boom', stack: '', inputPreview: '', fetchNode: '' } })).toBe(false);
  });

  it('refuses a field cut short, saying where', () => {
    const packed = packTasks([task(0, 'abc'), task(1, 'def')]);
    expect(() => unpackTasks(packed.subarray(0, packed.length - 1))).toThrow(/packed_tasks is cut short: task 1's input ends past the field's 33 bytes/);
    expect(() => unpackResults('7', packResults([result(0, 'o')]).subarray(0, 20))).toThrow(/says 1 entries but holds 20 bytes/);
    expect(() => unpackTasks(Buffer.alloc(2))).toThrow(/2 bytes, too short for its count/);
  });
});

describe('a results message written by hand (results-message.ts)', () => {
  const { AgentService } = wireServices();
  // The codec grpc-js calls for the Work stream's agent side: what goes on the wire, and what the coordinator reads.
  const work = (AgentService as unknown as { service: { Work: { responseSerialize(v: unknown): Buffer; responseDeserialize(b: Buffer): unknown } } }).service
    .Work;

  it('is byte for byte what protobufjs encodes, read back as the same message: jobs, several results, lengths of 1–3 varint bytes', () => {
    const big = { ...result(4, 'z'.repeat(20_000)), jobId: 'jöb-ü' };
    const jobs = [
      { jobId: '7', results: [result(0, 'out'), result(-1, ''), result(9, 'x'.repeat(200))] },
      { jobId: 'jöb-ü', results: [big] },
    ];
    const byHand = encodePackedResultsMessage(jobs).bytes;
    const message = { msg: 'results', results: { results: [], packed: jobs.map((j) => ({ jobId: j.jobId, results: packResults(j.results) })) } };
    expect(byHand.equals(work.responseSerialize(message))).toBe(true);
    const read = work.responseDeserialize(byHand) as { results: { packed: { jobId: string; results: Buffer }[] } };
    expect(read.results.packed.map((p) => unpackResults(p.jobId, p.results))).toEqual(jobs.map((j) => j.results));
  });
});

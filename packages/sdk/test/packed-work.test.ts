import { describe, expect, it } from 'vitest';
import { packResults, packTasks, packableResult, packableTasks, unpackResults, unpackTasks } from '../src/wire/index.js';
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

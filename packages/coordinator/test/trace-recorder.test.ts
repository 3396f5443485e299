import { describe, expect, it } from 'vitest';
import type { TaskResult } from '@picompute/sdk/wire';
import { TraceRecorder } from '../src/dashboard/trace.js';

const result = (jobId: string, index: number, thread: number, startedAtMs: number): TaskResult => ({
  jobId,
  index,
  attempt: 1,
  ok: true,
  output: Buffer.alloc(0),
  error: null,
  logs: [],
  durationMs: 10,
  heapMb: 1,
  thread,
  startedAtMs,
});
type Trace = { traceEvents: { ph: string; name: string; pid: number; tid: number; ts?: number; dur?: number }[]; otherData: { truncated: boolean } };

describe('TraceRecorder', () => {
  it('writes one track per node and thread, times relative to the first task, in microseconds', () => {
    const t = new TraceRecorder();
    t.record('1', 'pi-a', result('1', 0, 3, 1000));
    t.record('1', 'pi-b', result('1', 1, 3, 1005));
    const trace = t.chromeTrace('1', 'job') as Trace;
    const tasks = trace.traceEvents.filter((e) => e.ph === 'X');
    expect(tasks.map((e) => [e.name, e.pid, e.tid, e.ts, e.dur])).toEqual([
      ['task 0', 1, 3, 0, 10_000],
      ['task 1', 2, 3, 5000, 10_000],
    ]);
    expect(
      trace.traceEvents
        .filter((e) => e.ph === 'M')
        .map((e) => e.name)
        .sort(),
    ).toEqual(['process_name', 'process_name', 'thread_name', 'thread_name']);
  });

  it('stays under its cap: the oldest job goes first; a job alone over the cap keeps its latest half and says so', () => {
    const t = new TraceRecorder(10);
    for (let i = 0; i < 6; i++) t.record('1', 'n', result('1', i, 1, i));
    for (let i = 0; i < 6; i++) t.record('2', 'n', result('2', i, 1, i));
    expect(t.has('1')).toBe(false);
    expect(t.has('2')).toBe(true);
    for (let i = 6; i < 12; i++) t.record('2', 'n', result('2', i, 1, i));
    const trace = t.chromeTrace('2', 'job') as Trace;
    const names = trace.traceEvents.filter((e) => e.ph === 'X').map((e) => e.name);
    expect(names.length).toBeLessThanOrEqual(10);
    expect(names).toContain('task 11');
    expect(names).not.toContain('task 0');
    expect(trace.otherData.truncated).toBe(true);
  });
});

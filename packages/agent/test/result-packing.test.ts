import { describe, expect, it } from 'vitest';
import type { TaskResult } from '@picompute/sdk/wire';
import { packResults, resultBytes } from '../src/result-packing.js';

const MiB = 1024 * 1024;
const result = (index: number, outputBytes: number, logs: string[] = []): TaskResult => ({
  jobId: '7',
  index,
  attempt: 1,
  ok: true,
  output: Buffer.alloc(outputBytes, index),
  error: null,
  logs,
  durationMs: 1,
  heapMb: 1,
});

describe('packing results into messages', () => {
  it('keeps order and puts as many in one message as the budget allows, never more', () => {
    const results = [3, 3, 3, 1, 1, 5].map((mib, i) => result(i, mib * MiB));
    const messages = packResults(results, 7 * MiB);
    expect(messages.map((m) => m.map((r) => r.index))).toEqual([[0, 1], [2, 3, 4], [5]]);
    for (const m of messages) expect(m.reduce((n, r) => n + resultBytes(r), 0)).toBeLessThanOrEqual(7 * MiB);
  });

  it('fails a result too big for any message, naming its size and the limit, and still sends the others', () => {
    const messages = packResults([result(0, MiB), result(1, 9 * MiB), result(2, MiB)], 7 * MiB);
    const sent = messages.flat();
    expect(sent.map((r) => [r.index, r.ok])).toEqual([
      [0, true],
      [1, false],
      [2, true],
    ]);
    expect(sent[1]!.output.length).toBe(0);
    expect(sent[1]!.error?.message).toMatch(/^its output is 9\.0 MiB encoded; a task's output must stay under 7 MiB: return less/);
  });

  it('counts logs: a task that logged too much fails with its first lines kept', () => {
    const chatty = result(
      0,
      0,
      Array.from({ length: 4000 }, () => 'x'.repeat(2000)),
    );
    const [[sent]] = packResults([chatty], 7 * MiB) as [[TaskResult]];
    expect(sent.ok).toBe(false);
    expect(sent.error?.message).toMatch(/^its output with its log lines is 7\.7 MiB encoded; a task's output must stay under 7 MiB/);
    expect(sent.logs).toHaveLength(20);
    expect(resultBytes(sent)).toBeLessThan(MiB);
  });
});

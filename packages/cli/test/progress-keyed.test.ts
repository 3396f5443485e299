import { describe, expect, it } from 'vitest';
import type { JobEvent } from '@picompute/sdk/wire';
import { Progress } from '../src/progress.js';
import { stream } from './support-stream.js';

describe('progress of a keyed job', () => {
  it('shows its phases: maps in place and bytes in, bytes shuffled, parts reduced and bytes out', () => {
    const s = stream(true);
    const p = new Progress(s.out);
    const ev: JobEvent = {
      jobId: '9',
      state: 'RUNNING',
      tasksTotal: 12,
      tasksDone: 9,
      tasksRunning: 3,
      retries: 0,
      error: '',
      logs: [],
      wallMs: 3000,
      cores: 2,
      nodes: [],
      reason: '',
      runningLongest: [],
      shuffle: { mapsTotal: 8, mapsDone: 8, reducesTotal: 4, reducesDone: 1, bytesIn: 16 * 1048576, bytesShuffled: 3.5 * 1048576, bytesOut: 40_960 },
    };
    p.update(ev);
    p.end();
    expect(s.text()).toContain('9/12 tasks · 3.0/s · ETA 1s · map 8/8 (16 MiB in) · shuffle 3.5 MiB · reduce 1/4 (40 KiB out)');
  });
});

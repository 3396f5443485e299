import { stream } from './support-stream.js';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { JobEvent } from '@picompute/sdk/wire';
import { Progress } from '../src/progress.js';

const event = (over: Partial<JobEvent>): JobEvent => ({
  jobId: '7',
  state: 'RUNNING',
  tasksTotal: 64,
  tasksDone: 16,
  tasksRunning: 4,
  retries: 0,
  error: '',
  logs: [],
  wallMs: 2000,
  cores: 2,
  nodes: [],
  reason: '',
  ...over,
});

describe('progress', () => {
  it('draws a bar with done/total, rate and ETA in place on a terminal', () => {
    const s = stream(true);
    const p = new Progress(s.out);
    p.update(event({}));
    p.update(event({ tasksDone: 32, wallMs: 4000, logs: [{ task: 3, node: 'pi5-1', line: 'hello' }] }));
    p.end();
    const text = s.text();
    expect(text).toContain('\r\x1b[2K[██████░░░░░░░░░░░░░░░░░░] 16/64 tasks · 8.0/s · ETA 6s');
    expect(text).toContain('[task 3 @ pi5-1] hello\n');
    expect(text).toContain('[████████████░░░░░░░░░░░░] 32/64 tasks · 8.0/s · ETA 4s');
  });

  it('writes plain lines elsewhere: the pending reason once, then no bar', () => {
    const s = stream(false);
    const p = new Progress(s.out);
    p.update(event({ state: 'PENDING', reason: 'NoNodes', tasksDone: 0, wallMs: 0 }));
    p.update(event({ state: 'PENDING', reason: 'NoNodes', tasksDone: 0, wallMs: 0 }));
    p.update(event({}));
    expect(s.text()).toBe('job 7: pending (NoNodes: no agent is up yet; the job waits for one)\n');
  });

  describe('off a terminal, while running', () => {
    afterEach(() => vi.useRealTimers());

    it('writes one plain line every 5 s of events, no bar, no escape codes', () => {
      vi.useFakeTimers({ now: 1_000_000 });
      const s = stream(false);
      const p = new Progress(s.out);
      const at = (ms: number, done: number) => {
        vi.setSystemTime(1_000_000 + ms);
        p.update(event({ tasksDone: done, wallMs: 2000 + ms }));
      };
      at(0, 16);
      at(4_900, 20);
      expect(s.text()).toBe('');
      at(5_000, 24);
      at(6_000, 26);
      at(9_900, 30);
      expect(s.text()).toBe('job 7: 24/64 tasks · 3.4/s · ETA 11.7s\n');
      at(10_000, 32);
      p.end();
      expect(s.text()).toBe('job 7: 24/64 tasks · 3.4/s · ETA 11.7s\njob 7: 32/64 tasks · 2.7/s · ETA 12s\n');
    });
  });
});

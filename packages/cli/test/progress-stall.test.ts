/** Issue #12, 3: a stalled job's progress says which tasks it waits for, on a terminal and off one. */
import { stream } from './support-stream.js';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { JobEvent } from '@picompute/sdk/wire';
import { Progress } from '../src/progress.js';

const event = (over: Partial<JobEvent>): JobEvent => ({
  jobId: '7',
  state: 'RUNNING',
  tasksTotal: 4,
  tasksDone: 3,
  tasksRunning: 1,
  retries: 0,
  error: '',
  logs: [],
  wallMs: 1000,
  cores: 2,
  nodes: [],
  reason: '',
  runningLongest: [{ index: 2, node: 'pi5-1', runningMs: 1000 }],
  ...over,
});

describe('progress of a stalled job', () => {
  afterEach(() => vi.useRealTimers());

  for (const tty of [true, false]) {
    it(`names the task running longest, its node and for how long, once nothing finished for 5 s (${tty ? 'terminal' : 'plain lines'})`, () => {
      // Only Date is driven by hand: the coordinator's events (one a second while running) are what the test feeds in.
      vi.useFakeTimers({ toFake: ['Date'] });
      const s = stream(tty);
      const p = new Progress(s.out);
      p.update(event({}));
      vi.advanceTimersByTime(4000);
      p.update(event({ wallMs: 5000, runningLongest: [{ index: 2, node: 'pi5-1', runningMs: 5000 }] }));
      expect(s.text()).not.toContain('running longest');
      vi.advanceTimersByTime(9000);
      p.update(
        event({
          wallMs: 14_000,
          runningLongest: [
            { index: 2, node: 'pi5-1', runningMs: 14_000 },
            { index: -1, node: 'pi4-2', runningMs: 9000 },
          ],
        }),
      );
      expect(s.text()).toContain('3/4 tasks');
      expect(s.text()).toContain('no task finished for 13s; running longest: task 2 on pi5-1 for 14s, the reduce step on pi4-2 for 9s');
    });
  }
});

/** Small builders for the pure coordinator tests: a node, a job snapshot, a submit request, with defaults a test may override. */
import type { SubmitRequest } from '@picompute/sdk/wire';
import type { JobSnapshot, NodeSnapshot } from '../../src/scheduler/index.js';

export const node = (id: string, cores: number, extra: Partial<NodeSnapshot> = {}): NodeSnapshot => ({
  id,
  cores,
  freeSlots: 2 * cores,
  freeMemoryMb: 4096,
  memoryMb: 4096,
  health: 'up',
  labels: [],
  ...extra,
});

export const job = (id: string, runnable: number, extra: Partial<JobSnapshot> = {}): JobSnapshot => ({
  id,
  user: 'alice',
  runnable,
  running: 0,
  priority: 0,
  seq: Number(id),
  batchSize: 1,
  coresPerTask: 1,
  memoryMb: 0,
  ...extra,
});

export const request = (extra: Partial<SubmitRequest> = {}): SubmitRequest => ({
  name: 'test',
  bundleHash: 'b',
  inputsHash: '',
  taskCount: 0,
  hasReduce: false,
  args: {},
  timeLimitMs: 1000,
  memoryMb: 0,
  user: 'alice',
  source: '',
  coresPerTask: 1,
  retries: 0,
  priority: 0,
  constraint: '',
  dependency: '',
  ...extra,
});

/**
 * One realistic message, with every field set, for each request and response
 * of the wire contract: the fuzzer's seeds. Mutating `{}` (a zero-length
 * message) only ever tests noise; mutating a real message reaches the
 * decoders of nested messages, maps, oneofs, repeated and bytes fields.
 */
import type { AgentInfo, BlobChunk, Heartbeat, JobEvent, JobSummary, NodeStatus, ResultChunk, SubmitRequest } from '../src/wire/index.js';

const info: AgentInfo = {
  id: 'pi5-1',
  hostname: 'pi5-1',
  cores: 4,
  memoryMb: 8192,
  arch: 'arm64',
  nodeVersion: 'v20.20.2',
  version: '0.1.0',
  labels: ['pi5', 'fast'],
};
const heartbeat: Heartbeat = {
  load1: 1.25,
  freeMemoryMb: 4096,
  temperatureC: 48.312,
  busyThreads: 3,
  sentAtMs: 1_764_000_000_000,
  pingEchoMs: 1_764_000_000_001,
};
const chunk: BlobChunk = { hash: 'e3'.repeat(32), data: Buffer.from('bundle bytes \u0000\u00ff'), last: true };
const result: ResultChunk = { reduced: true, values: [Buffer.from([0xff, 0x0d, 0x49, 0x54]), Buffer.alloc(0)] };
const submit: SubmitRequest = {
  name: 'pi',
  bundleHash: 'a'.repeat(64),
  inputsHash: '',
  taskCount: 64,
  hasReduce: true,
  args: { n: '5', mode: 'fast' },
  timeLimitMs: 1000,
  memoryMb: 256,
  user: 'pi',
  source: 'job.ts',
  coresPerTask: 2,
  retries: 1,
  priority: -3,
  constraint: 'pi5',
  dependency: 'afterok:7',
  inputs: Buffer.from([1, 2, 3, 4]),
};
const event: JobEvent = {
  jobId: '42',
  state: 'RUNNING',
  tasksTotal: 64,
  tasksDone: 16,
  tasksRunning: 4,
  retries: 1,
  error: 'task 2 failed',
  logs: [{ task: -1, node: 'pi5-1', line: 'reduce says hi' }],
  wallMs: 2000.5,
  cores: 8,
  nodes: ['pi5-1', 'pi4-1'],
  reason: 'Resources',
  result,
  runningLongest: [{ index: 3, node: 'pi4-1', runningMs: 14_000.5 }],
  outputs: [{ index: 7, value: Buffer.from([0xff, 0x0d, 0x49, 0x07]) }],
};
const taskStatus = { index: 5, state: 'COMPLETED', node: 'pi5-1', attempt: 2, startedAtMs: 1_764_000_000_000, runMs: 123.5, heapMb: 14.25 };
const summary: JobSummary = {
  jobId: '42',
  name: 'pi',
  state: 'COMPLETED',
  tasksTotal: 64,
  tasksDone: 64,
  submittedAtMs: 1_764_000_000_000,
  wallMs: 1234.5,
  error: '',
  user: 'pi',
  reason: '',
  priority: 10,
  coresPerTask: 1,
  tasksRunning: 0,
  attempts: 66,
  cpuMs: 9876.5,
  maxHeapMb: 12.5,
  nodes: ['pi5-1'],
  startedAtMs: 1_764_000_000_010,
  endedAtMs: 1_764_000_001_244,
  dependency: 'afterok:41',
  cores: 4,
};
const node: NodeStatus = {
  info,
  address: '10.0.0.5:7701',
  state: 'mixed',
  tasksInFlight: 2,
  tasksDone: 1000,
  lastHeartbeat: heartbeat,
  coresBusy: 2,
  rttMs: 0.42,
};
const status = { ...node, state: 'drained' };

/** Seeds by method name: requests and responses (several where a oneof has several members). */
export const REQUESTS: Record<string, unknown[]> = {
  Submit: [submit],
  SubmitWatch: [submit],
  Watch: [{ jobId: '42' }, { jobId: '42', outputs: true }],
  Cancel: [{ jobId: '42' }],
  ListJobs: [
    { active: true, finished: false },
    { active: false, finished: true },
  ],
  ListNodes: [{}],
  PutBlob: [chunk, { hash: '', data: Buffer.alloc(300, 7), last: false }],
  GetBlob: [{ hash: chunk.hash }],
  GetResult: [{ jobId: '42' }, { jobId: '42', partial: true }],
  GetPart: [{ jobId: '42', partition: 3 }],
  ListTasks: [{ jobId: '42' }],
  Requeue: [{ jobId: '42', failed: true }],
  Register: [{ address: '10.0.0.5:7701', info }],
  GetLogs: [{ jobId: '42' }],
  Drain: [{ node: 'pi5-1' }],
  Resume: [{ node: '10.0.0.5:7701' }],
  Work: [
    {
      msg: 'assign',
      assign: {
        job: { jobId: '1', bundleHash: 'c'.repeat(64), timeLimitMs: 500, memoryMb: 64, args: { a: 'b' }, coresPerTask: 1 },
        tasks: [
          { index: 3, attempt: 2, kind: 'MAP', input: Buffer.from([1, 2, 3]), values: [] },
          { index: -1, attempt: 1, kind: 'REDUCE', input: Buffer.alloc(0), values: [Buffer.from([9]), Buffer.from([8, 7])] },
        ],
      },
    },
    { msg: 'cancel', cancel: { jobId: '1' } },
    { msg: 'cancelTasks', cancelTasks: { jobId: '1', tasks: [{ index: 3, attempt: 1 }] } },
    { msg: 'ping', ping: { sentAtMs: 1_764_000_000_000 } },
    { msg: 'bundle', bundle: chunk },
    {
      msg: 'assign',
      assign: {
        job: { jobId: '2', bundleHash: 'c'.repeat(64), timeLimitMs: 0, memoryMb: 0, args: {}, coresPerTask: 1, sharedHash: '', partitions: 4 },
        tasks: [{ index: -(2 ** 30) - 3, attempt: 1, kind: 'KEYED_REDUCE', input: Buffer.from('{"partition":3,"sources":[]}'), values: [] }],
      },
    },
  ],
  Info: [{}],
  FetchRun: [{ jobId: '2', runId: 'm0-a1-s0-p3' }],
  ListRuns: [{ jobId: '2' }],
  HasChunks: [{ hashes: ['a'.repeat(64), 'b'.repeat(64)] }],
};

export const RESPONSES: Record<string, unknown[]> = {
  Submit: [{ jobId: '42' }],
  SubmitWatch: [event, { ...event, state: 'COMPLETED', result: null }],
  Watch: [event],
  Cancel: [{ state: 'CANCELLED' }],
  ListJobs: [
    { jobs: [summary, { ...summary, jobId: '43', state: 'PENDING', reason: 'Dependency' }], shares: [{ user: 'pi', coresInUse: 2, share: 0.5, jobs: 1 }] },
  ],
  ListNodes: [{ nodes: [node, { ...node, state: 'down', lastHeartbeat: null }] }],
  PutBlob: [{ hash: chunk.hash, size: 5_000_000 }],
  GetBlob: [chunk],
  ListTasks: [{ tasks: [taskStatus, { ...taskStatus, index: 6, state: 'PENDING', node: '', attempt: 0 }] }],
  Requeue: [{ ...summary, state: 'PENDING', reason: 'Resources' }],
  GetResult: [result],
  GetPart: [{ ...chunk, hash: '{"node":"pi5-1","address":"10.0.0.5:7070","part":"part-3-a1","bytes":5000000,"keys":41}' }],
  Register: [{ coordinatorId: 'coord-1' }],
  GetLogs: [{ task: 3, node: 'pi5-1', line: 'ran 3' }],
  Drain: [status],
  Resume: [node],
  Work: [
    { msg: 'hello', hello: info },
    {
      msg: 'results',
      results: {
        results: [
          { jobId: '1', index: 3, attempt: 1, ok: true, output: Buffer.from([5]), error: null, logs: ['hi'], durationMs: 1.5, heapMb: 4.25 },
          {
            jobId: '1',
            index: 4,
            attempt: 3,
            ok: false,
            output: Buffer.alloc(0),
            error: { kind: 'TIMEOUT', message: 'exceeded its time limit', stack: 'at map', inputPreview: '{ n: 4 }' },
            logs: [],
            durationMs: 500,
            heapMb: 0,
          },
        ],
      },
    },
    { msg: 'heartbeat', heartbeat },
    { msg: 'needBundle', needBundle: { hash: 'c'.repeat(64) } },
    { msg: 'holding', holding: { tasks: [{ jobId: '1', index: 3, attempt: 1, finished: true, submittedAtMs: 1_764_000_000_000 }] } },
  ],
  Info: [info],
  FetchRun: [chunk],
  ListRuns: [{ runIds: ['m0-a1-s0-p3', 'm1-a1-s0-p3'] }],
  HasChunks: [{ missing: ['b'.repeat(64)], takesValues: true }],
};

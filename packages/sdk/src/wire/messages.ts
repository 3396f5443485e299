/**
 * TypeScript shapes of the messages in protos/picompute.proto as
 * @grpc/proto-loader hands them over with the options in ./load.ts
 * (camelCase fields, enums as strings, longs as numbers, bytes as Buffer,
 * defaults filled in, `msg` naming the set member of a oneof).
 * Field names must match the .proto; tests/wire round-trips each message kind.
 */

export interface BlobChunk { hash: string; data: Buffer; last: boolean }
export interface PutBlobReply { hash: string; size: number }
export interface GetBlobRequest { hash: string }

export interface SubmitRequest {
  name: string;
  bundleHash: string;
  inputsHash: string;
  taskCount: number;
  hasReduce: boolean;
  args: Record<string, string>;
  timeLimitMs: number;
  memoryMb: number;
  user: string;
  source: string;
  coresPerTask: number;
  retries: number;
  priority: number;
  constraint: string;
  dependency: string;
  /** Packed inputs inline (small jobs); `inputsHash` is then empty. */
  inputs?: Buffer;
  /** At most this many tasks in flight at once, cluster-wide; 0 or absent: no cap. */
  maxRunning?: number;
  /** sha256 of the encoded shared(args) value, uploaded as a blob; empty or absent: none. */
  sharedHash?: string;
}
export interface SubmitReply { jobId: string }
export interface WatchRequest {
  jobId: string;
  /** Also send each map output as its task finishes. */
  outputs?: boolean;
}
export interface TaskOutput { index: number; value: Buffer }
export interface LogLine { task: number; node: string; line: string }

export type FinalJobState = 'COMPLETED' | 'FAILED' | 'CANCELLED' | 'TIMEOUT' | 'NODE_FAIL';
export type JobState = 'PENDING' | 'RUNNING' | FinalJobState;
export const FINAL_STATES: ReadonlySet<string> = new Set<FinalJobState>(['COMPLETED', 'FAILED', 'CANCELLED', 'TIMEOUT', 'NODE_FAIL']);

export interface JobEvent {
  jobId: string;
  state: JobState;
  tasksTotal: number;
  tasksDone: number;
  tasksRunning: number;
  retries: number;
  error: string;
  logs: LogLine[];
  wallMs: number;
  cores: number;
  nodes: string[];
  /** Why a PENDING job waits (`NoNodes`, `Resources`, `Priority`, `Dependency`), or why it ended (`DependencyNeverSatisfied`). */
  reason: string;
  /** On the COMPLETED event: the result itself when small, else null (fetch it with GetResult). */
  result?: ResultChunk | null;
  /** The tasks out longest (up to 3, longest first): what a stalled job waits for. */
  runningLongest: RunningTask[];
  /** For a Watch that asked for them: the map outputs finished since the last event. */
  outputs?: TaskOutput[];
}
/** A task sent to a node and not back yet; `index` -1 is the reduce step, lower ones group folds. */
export interface RunningTask { index: number; node: string; runningMs: number }
export interface CancelRequest { jobId: string }
export interface CancelReply { state: string }
export interface ListJobsRequest { active?: boolean; finished?: boolean }
export interface JobSummary {
  jobId: string;
  name: string;
  state: JobState;
  tasksTotal: number;
  tasksDone: number;
  submittedAtMs: number;
  wallMs: number;
  error: string;
  user: string;
  reason: string;
  priority: number;
  coresPerTask: number;
  tasksRunning: number;
  attempts: number;
  cpuMs: number;
  maxHeapMb: number;
  nodes: string[];
  startedAtMs: number;
  endedAtMs: number;
  dependency: string;
  cores: number;
  /** Tasks sent to agents that wait there for a free core; `tasksRunning` counts those on a core. */
  tasksQueued: number;
}
export interface UserShare { user: string; coresInUse: number; share: number; jobs: number }
export interface ListJobsReply { jobs: JobSummary[]; shares: UserShare[] }
export interface GetLogsRequest { jobId: string }
export interface ListTasksRequest { jobId: string }
export interface RequeueRequest { jobId: string; failed: boolean }
export interface TaskStatus {
  index: number;
  /** PENDING | RUNNING | COMPLETED | FAILED | TIMEOUT | OUT_OF_MEMORY | NODE_FAIL | CANCELLED */
  state: string;
  /** Node of the last run; empty if it never ran. */
  node: string;
  /** 0 if it never ran. */
  attempt: number;
  startedAtMs: number;
  /** Of the last run (so far, while it runs). */
  runMs: number;
  heapMb: number;
}
export interface TaskStatusChunk { tasks: TaskStatus[] }
export interface NodeRequest { node: string }
export type ListNodesRequest = Record<string, never>;
export interface NodeStatus {
  info: AgentInfo;
  address: string;
  state: string;
  tasksInFlight: number;
  tasksDone: number;
  lastHeartbeat: Heartbeat | null;
  coresBusy: number;
  /** Coordinator↔agent round trip from the last Ping, ms (0 before the first). */
  rttMs: number;
}
export interface ListNodesReply { nodes: NodeStatus[] }
export interface GetResultRequest { jobId: string; partial?: boolean }
export interface ResultChunk {
  reduced: boolean;
  values: Buffer[];
  /** Partial results only: the task index of each value. */
  indices?: number[];
}
export interface RegisterRequest { address: string; info: AgentInfo }
export interface RegisterReply { coordinatorId: string }

export type InfoRequest = Record<string, never>;
export interface AgentInfo {
  id: string;
  hostname: string;
  cores: number;
  memoryMb: number;
  arch: string;
  nodeVersion: string;
  version: string;
  labels: string[];
}
export interface JobSpec {
  jobId: string;
  bundleHash: string;
  timeLimitMs: number;
  memoryMb: number;
  args: Record<string, string>;
  coresPerTask: number;
  /** The job's shared value, fetched like the bundle; empty or absent: none. */
  sharedHash?: string;
}
export type TaskKind = 'MAP' | 'REDUCE' | 'COMBINE';
export interface TaskInput { index: number; attempt: number; kind: TaskKind; input: Buffer; values: Buffer[] }
export interface Assign { job: JobSpec; tasks: TaskInput[] }
export interface CancelJob { jobId: string }
export interface Ping { sentAtMs: number }

export type ToAgent =
  | { msg: 'assign'; assign: Assign }
  | { msg: 'cancel'; cancel: CancelJob }
  | { msg: 'ping'; ping: Ping }
  | { msg: 'bundle'; bundle: BlobChunk };

export type TaskErrorKind = 'THREW' | 'TIMEOUT' | 'OUT_OF_MEMORY' | 'WORKER_DIED' | 'BUNDLE';
export interface TaskError { kind: TaskErrorKind; message: string; stack: string; inputPreview: string }
export interface TaskResult {
  jobId: string;
  index: number;
  attempt: number;
  ok: boolean;
  output: Buffer;
  error: TaskError | null;
  logs: string[];
  durationMs: number;
  heapMb: number;
  /** The agent's worker thread that ran the task (0 from older agents). */
  thread?: number;
  /** When the task started, the agent's clock, ms since the epoch (0 from older agents). */
  startedAtMs?: number;
}
export interface Results { results: TaskResult[] }
export interface Heartbeat {
  load1: number;
  freeMemoryMb: number;
  temperatureC: number;
  busyThreads: number;
  sentAtMs: number;
  /** `sentAtMs` of the last Ping the agent got, echoed back (the coordinator's own clock). */
  pingEchoMs?: number;
  /** The Pi firmware's get_throttled bits (see @picompute/agent's throttle.ts); -1 where the node has none. */
  throttled?: number;
}
export interface NeedBundle { hash: string }

export type FromAgent =
  | { msg: 'hello'; hello: AgentInfo }
  | { msg: 'results'; results: Results }
  | { msg: 'heartbeat'; heartbeat: Heartbeat }
  | { msg: 'needBundle'; needBundle: NeedBundle };

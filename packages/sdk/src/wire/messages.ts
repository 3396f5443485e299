/**
 * The TypeScript shapes of the messages in protos/picompute.proto, as the
 * wire hands them over with the options in ./load.ts (camelCase fields,
 * enums as strings, longs as numbers, bytes as Buffer, defaults filled in,
 * `msg` naming the set member of a oneof). Every field list is generated
 * (protos/build.mjs, into ./generated/); this file only names the generated
 * `__Output` types (imported as `Name_`) and says where the code relies on
 * more than proto3 says: fields a sender may leave out and message fields
 * always sent (`Wire`), and each oneof as a union on `msg` (`OneOf`).
 */
import type { BlobChunk__Output as BlobChunk_ } from './generated/picompute/v1/BlobChunk.js';
import type { HasChunksRequest__Output as HasChunksRequest_ } from './generated/picompute/v1/HasChunksRequest.js';
import type { HasChunksReply__Output as HasChunksReply_ } from './generated/picompute/v1/HasChunksReply.js';
import type { FetchRunRequest__Output as FetchRunRequest_ } from './generated/picompute/v1/FetchRunRequest.js';
import type { ListRunsRequest__Output as ListRunsRequest_ } from './generated/picompute/v1/ListRunsRequest.js';
import type { ListRunsReply__Output as ListRunsReply_ } from './generated/picompute/v1/ListRunsReply.js';
import type { GetPartRequest__Output as GetPartRequest_ } from './generated/picompute/v1/GetPartRequest.js';
import type { PutBlobReply__Output as PutBlobReply_ } from './generated/picompute/v1/PutBlobReply.js';
import type { GetBlobRequest__Output as GetBlobRequest_ } from './generated/picompute/v1/GetBlobRequest.js';
import type { SubmitRequest__Output as SubmitRequest_ } from './generated/picompute/v1/SubmitRequest.js';
import type { SubmitReply__Output as SubmitReply_ } from './generated/picompute/v1/SubmitReply.js';
import type { WatchRequest__Output as WatchRequest_ } from './generated/picompute/v1/WatchRequest.js';
import type { TaskOutput__Output as TaskOutput_ } from './generated/picompute/v1/TaskOutput.js';
import type { LogLine__Output as LogLine_ } from './generated/picompute/v1/LogLine.js';
import type { JobEvent__Output as JobEvent_ } from './generated/picompute/v1/JobEvent.js';
import type { RunningTask__Output as RunningTask_ } from './generated/picompute/v1/RunningTask.js';
import type { CancelRequest__Output as CancelRequest_ } from './generated/picompute/v1/CancelRequest.js';
import type { CancelReply__Output as CancelReply_ } from './generated/picompute/v1/CancelReply.js';
import type { ListJobsRequest__Output as ListJobsRequest_ } from './generated/picompute/v1/ListJobsRequest.js';
import type { JobSummary__Output as JobSummary_ } from './generated/picompute/v1/JobSummary.js';
import type { UserShare__Output as UserShare_ } from './generated/picompute/v1/UserShare.js';
import type { ListJobsReply__Output as ListJobsReply_ } from './generated/picompute/v1/ListJobsReply.js';
import type { GetLogsRequest__Output as GetLogsRequest_ } from './generated/picompute/v1/GetLogsRequest.js';
import type { ListTasksRequest__Output as ListTasksRequest_ } from './generated/picompute/v1/ListTasksRequest.js';
import type { RequeueRequest__Output as RequeueRequest_ } from './generated/picompute/v1/RequeueRequest.js';
import type { TaskStatus__Output as TaskStatus_ } from './generated/picompute/v1/TaskStatus.js';
import type { TaskStatusChunk__Output as TaskStatusChunk_ } from './generated/picompute/v1/TaskStatusChunk.js';
import type { NodeRequest__Output as NodeRequest_ } from './generated/picompute/v1/NodeRequest.js';
import type { ListNodesRequest__Output as ListNodesRequest_ } from './generated/picompute/v1/ListNodesRequest.js';
import type { NodeStatus__Output as NodeStatus_ } from './generated/picompute/v1/NodeStatus.js';
import type { ListNodesReply__Output as ListNodesReply_ } from './generated/picompute/v1/ListNodesReply.js';
import type { GetResultRequest__Output as GetResultRequest_ } from './generated/picompute/v1/GetResultRequest.js';
import type { ResultChunk__Output as ResultChunk_ } from './generated/picompute/v1/ResultChunk.js';
import type { RegisterRequest__Output as RegisterRequest_ } from './generated/picompute/v1/RegisterRequest.js';
import type { RegisterReply__Output as RegisterReply_ } from './generated/picompute/v1/RegisterReply.js';
import type { InfoRequest__Output as InfoRequest_ } from './generated/picompute/v1/InfoRequest.js';
import type { AgentInfo__Output as AgentInfo_ } from './generated/picompute/v1/AgentInfo.js';
import type { JobSpec__Output as JobSpec_ } from './generated/picompute/v1/JobSpec.js';
import type { TaskInput__Output as TaskInput_ } from './generated/picompute/v1/TaskInput.js';
import type { Assign__Output as Assign_ } from './generated/picompute/v1/Assign.js';
import type { CancelJob__Output as CancelJob_ } from './generated/picompute/v1/CancelJob.js';
import type { TaskRef__Output as TaskRef_ } from './generated/picompute/v1/TaskRef.js';
import type { Ping__Output as Ping_ } from './generated/picompute/v1/Ping.js';
import type { ToAgent__Output as ToAgent_ } from './generated/picompute/v1/ToAgent.js';
import type { TaskError__Output as TaskError_ } from './generated/picompute/v1/TaskError.js';
import type { TaskResult__Output as TaskResult_ } from './generated/picompute/v1/TaskResult.js';
import type { Results__Output as Results_ } from './generated/picompute/v1/Results.js';
import type { PackedResults__Output as PackedResults_ } from './generated/picompute/v1/PackedResults.js';
import type { Heartbeat__Output as Heartbeat_ } from './generated/picompute/v1/Heartbeat.js';
import type { NeedBundle__Output as NeedBundle_ } from './generated/picompute/v1/NeedBundle.js';
import type { HeldTask__Output as HeldTask_ } from './generated/picompute/v1/HeldTask.js';
import type { FromAgent__Output as FromAgent_ } from './generated/picompute/v1/FromAgent.js';
import type { JobState__Output } from './generated/picompute/v1/JobState.js';
import { JobState as JOB_STATES } from './generated/picompute/v1/JobState.js';
import type { _picompute_v1_TaskError_Kind__Output } from './generated/picompute/v1/TaskError.js';
import type { _picompute_v1_TaskStatus_State__Output } from './generated/picompute/v1/TaskStatus.js';
import type { TaskKind__Output } from './generated/picompute/v1/TaskKind.js';

/**
 * What the code relies on beyond proto3, by field name (the same in every
 * message that has the field): fields a sender may leave out (the receiver
 * sees their defaults), and message fields every sender sets (never null).
 */
type SentOptional =
  | 'packedWork'
  | 'packedTasks'
  | 'packed'
  | 'inputs'
  | 'maxRunning'
  | 'sharedHash'
  | 'outputs'
  | 'result'
  | 'active'
  | 'finished'
  | 'partial'
  | 'indices'
  | 'pingEchoMs'
  | 'refused'
  | 'chunkInputs'
  | 'submittedAtMs';
type AlwaysSet = 'info' | 'job';
/** A generated `__Output` type, and the messages inside it, with those two rules applied. */
type Wire<T> = T extends Buffer ? T : T extends readonly (infer E)[] ? Wire<E>[] : T extends object ? Fields<T> : T;
type Fields<T> = {
  [K in keyof T as K extends SentOptional ? never : K]: K extends AlwaysSet ? Wire<NonNullable<T[K]>> : Wire<T[K]>;
} & { [K in keyof T as K extends SentOptional ? K : never]?: Wire<T[K]> };
/** A oneof as a union: `msg` names the member that is set. */
type OneOf<T extends { msg?: string }> = { [M in NonNullable<T['msg']>]: { msg: M } & { [P in M & keyof T]: NonNullable<T[P]> } }[NonNullable<T['msg']>];

/** A job's state (proto enum JobState), in Slurm's words. */
export type JobState = JobState__Output;
export type FinalJobState = Exclude<JobState, 'PENDING' | 'RUNNING'>;
export const FINAL_STATES: ReadonlySet<string> = new Set<string>(Object.values(JOB_STATES).filter((s) => s !== 'PENDING' && s !== 'RUNNING'));
/** A map task's state (proto enum TaskStatus.State). */
export type TaskState = _picompute_v1_TaskStatus_State__Output;
/** Why a task failed (proto enum TaskError.Kind). */
export type TaskErrorKind = _picompute_v1_TaskError_Kind__Output;
export type TaskKind = TaskKind__Output;

export type BlobChunk = Wire<BlobChunk_>;
export type FetchRunRequest = Wire<FetchRunRequest_>;
export type ListRunsRequest = Wire<ListRunsRequest_>;
export type ListRunsReply = Wire<ListRunsReply_>;
export type HasChunksRequest = Wire<HasChunksRequest_>;
export type HasChunksReply = Wire<HasChunksReply_>;
export type GetPartRequest = Wire<GetPartRequest_>;
export type PutBlobReply = Wire<PutBlobReply_>;
export type GetBlobRequest = Wire<GetBlobRequest_>;
export type SubmitRequest = Wire<SubmitRequest_>;
export type SubmitReply = Wire<SubmitReply_>;
export type WatchRequest = Wire<WatchRequest_>;
export type TaskOutput = Wire<TaskOutput_>;
export type LogLine = Wire<LogLine_>;
export type JobEvent = Wire<JobEvent_>;
export type RunningTask = Wire<RunningTask_>;
export type CancelRequest = Wire<CancelRequest_>;
export type CancelReply = Wire<CancelReply_>;
export type ListJobsRequest = Wire<ListJobsRequest_>;
export type JobSummary = Wire<JobSummary_>;
export type UserShare = Wire<UserShare_>;
export type ListJobsReply = Wire<ListJobsReply_>;
export type GetLogsRequest = Wire<GetLogsRequest_>;
export type ListTasksRequest = Wire<ListTasksRequest_>;
export type RequeueRequest = Wire<RequeueRequest_>;
export type TaskStatus = Wire<TaskStatus_>;
export type TaskStatusChunk = Wire<TaskStatusChunk_>;
export type NodeRequest = Wire<NodeRequest_>;
export type ListNodesRequest = Wire<ListNodesRequest_>;
export type NodeStatus = Wire<NodeStatus_>;
export type ListNodesReply = Wire<ListNodesReply_>;
export type GetResultRequest = Wire<GetResultRequest_>;
export type ResultChunk = Wire<ResultChunk_>;
export type RegisterRequest = Wire<RegisterRequest_>;
export type RegisterReply = Wire<RegisterReply_>;
export type InfoRequest = Wire<InfoRequest_>;
export type AgentInfo = Wire<AgentInfo_>;
export type JobSpec = Wire<JobSpec_>;
export type TaskInput = Wire<TaskInput_>;
export type Assign = Wire<Assign_>;
export type CancelJob = Wire<CancelJob_>;
export type TaskRef = Wire<TaskRef_>;
export type Ping = Wire<Ping_>;
export type ToAgent = OneOf<Wire<ToAgent_>>;
export type TaskError = Wire<TaskError_>;
export type TaskResult = Wire<TaskResult_>;
export type Results = Wire<Results_>;
export type PackedResults = Wire<PackedResults_>;
export type Heartbeat = Wire<Heartbeat_>;
export type NeedBundle = Wire<NeedBundle_>;
export type HeldTask = Wire<HeldTask_>;
export type FromAgent = OneOf<Wire<FromAgent_>>;

/**
 * The messages between the agent's main thread and its piscina workers.
 * Inputs and outputs stay encoded bytes on the main thread: only workers
 * decode and encode, so the main thread just routes.
 */
import type { TaskErrorKind, TaskKind } from '@picompute/sdk/wire';

export interface BatchTask {
  index: number;
  attempt: number;
  /** MAP: one encoded input. */
  input: Uint8Array;
  /** REDUCE: the encoded map outputs in input order. */
  values: Uint8Array[];
  /**
   * KEYED_REDUCE: the partition, and its sorted runs on this agent (fetched
   * from their mappers before the batch starts) as file descriptors the main
   * thread holds open until the task ends.
   */
  partition?: number;
  runs?: number[];
}

export interface Batch {
  bundlePath: string;
  /** The file holding the job's encoded shared value (ctx.shared), or ''. */
  sharedPath: string;
  jobId: string;
  kind: TaskKind;
  args: Record<string, string>;
  timeLimitMs: number;
  /** The per-task memory limit, MiB: the heap's (set on the pool) and, checked by the worker, the Buffers' (./memory-guard.ts). */
  memoryMb: number;
  tasks: BatchTask[];
  /**
   * Float64Array(3) the worker keeps current: [ordinal of the task it is
   * running, Date.now() when that task started, ordinal + 1 of a task that
   * went over its memory limit off the heap, else 0]. It lets the main thread blame the right
   * task when a whole worker call dies (time limit, memory), and stop one
   * that holds too many Buffers.
   */
  progress: SharedArrayBuffer;
  /** Int32Array [count, pid…] of the processes the batch's tasks started (./task-children.ts). */
  children: SharedArrayBuffer;
  /** A keyed job: its reduce partitions (0 otherwise), the folder its map tasks write their runs to, and when they spill. */
  partitions?: number;
  shuffleDir?: string;
  spillBytes?: number;
  /** Where map inputs that are chunk references are read from (./chunk-cache.ts); their chunks are there, pinned, for the batch. */
  chunkDir?: string;
}

export interface TaskOutcome {
  index: number;
  attempt: number;
  ok: boolean;
  output?: Uint8Array;
  error?: { kind: TaskErrorKind; message: string; stack: string; inputPreview: string; fetchNode?: string };
  logs: string[];
  durationMs: number;
  /** The worker's V8 heap in use after the task, MiB. */
  heapMb: number;
  /** The worker thread that ran it (worker_threads' threadId). */
  thread?: number;
  /** Date.now() when the task started. */
  startedAtMs?: number;
}

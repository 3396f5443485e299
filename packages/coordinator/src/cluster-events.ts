/**
 * What happens in the Cluster, for those who only watch: metrics, the
 * dashboard, traces. Emitted from a few one-line hooks in ./cluster.ts;
 * with no listener an emit costs a property lookup. Listeners must be quick
 * and must not throw (they run inside the scheduling loop).
 */
import { EventEmitter } from 'node:events';
import type { FinalJobState, TaskResult } from '@picompute/sdk/wire';

export interface ClusterEventMap {
  /** Tasks sent to a node: how many, and their encoded input bytes. */
  dispatched: [node: string, jobId: string, tasks: number, inputBytes: number];
  /** A task's result or failure came back from a node (each attempt once). */
  taskEnded: [node: string, result: TaskResult];
  /** A task runs again: its node was lost, or it threw and --retries allows another go. */
  retried: [jobId: string];
  /** A node went down (or was removed) while up; `tasks` of its tasks were in flight. */
  nodeLost: [node: string, tasks: number];
  jobEnded: [jobId: string, state: FinalJobState];
}

export class ClusterEvents extends EventEmitter<ClusterEventMap> {}

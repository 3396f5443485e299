/**
 * What a job's transition (a method of JobRecord) asks of its caller:
 * nothing (a stale or duplicate report), to tell the watchers (with lines
 * for its log, and a map output to store), to set its pending reason, or to
 * end the job in a final state. `Start` is what a start hands out.
 */
import type { JobReason } from './job-reason.js';
import type { FinalJobState, LogLine } from '@picompute/sdk/wire';
import type { TaskId } from './task-id.js';

/** A map output to store (and stream to watchers that asked for outputs). */
export interface MapOutput {
  index: number;
  attempt: number;
  value: Buffer;
  /** A keyed job's map: the node whose disk holds the runs `value` lists. */
  node?: string;
}

export type Next =
  | { kind: 'ignored' }
  | { kind: 'notify'; logs: LogLine[]; output?: MapOutput }
  | { kind: 'reason'; reason: JobReason }
  | { kind: 'finish'; state: FinalJobState; output?: MapOutput };

export interface StartedTask {
  id: TaskId;
  attempt: number;
  input: Buffer;
  values: Buffer[];
}

/** Tasks to send to the node (`began`: the job just went PENDING → RUNNING), or the job must end. */
export type Start = { kind: 'send'; tasks: StartedTask[]; began: boolean } | Extract<Next, { kind: 'finish' }>;

export const IGNORED: Next = Object.freeze({ kind: 'ignored' });
// With a map output to store: built as one literal (no spread), since a finished task makes one.
export const notify = (logs: LogLine[] = [], output?: MapOutput): Extract<Next, { kind: 'notify' }> =>
  output ? { kind: 'notify', logs, output } : { kind: 'notify', logs };
export const finish = (state: FinalJobState, output?: MapOutput): Extract<Next, { kind: 'finish' }> =>
  output ? { kind: 'finish', state, output } : { kind: 'finish', state };

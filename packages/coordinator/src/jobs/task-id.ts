/**
 * A task of a job, named by what it does and which one: map task `index`,
 * the COMBINE of fold group `index`, or the job's one REDUCE (index 0).
 * Inside the coordinator a task is always a TaskId; only the wire (and so
 * AgentLink) numbers them in one integer: map tasks 0…n-1, the REDUCE -1,
 * the COMBINE of group g -2-g, a keyed job's reduce of partition p
 * KEYED_BASE - p, far below any group (see toWire / fromWire).
 */
import type { TaskKind } from '@picompute/sdk/wire';

export type { TaskKind };

export interface TaskId {
  readonly kind: TaskKind;
  readonly index: number;
}

export const mapTask = (index: number): TaskId => ({ kind: 'MAP', index });
export const combineTask = (group: number): TaskId => ({ kind: 'COMBINE', index: group });
export const REDUCE_TASK: TaskId = Object.freeze({ kind: 'REDUCE', index: 0 });
export const keyedReduceTask = (partition: number): TaskId => ({ kind: 'KEYED_REDUCE', index: partition });

const KEYED_BASE = -(2 ** 30);

/** The wire's one integer for a task. */
export function toWire(id: TaskId): number {
  if (id.kind === 'KEYED_REDUCE') return KEYED_BASE - id.index;
  return id.kind === 'MAP' ? id.index : id.kind === 'REDUCE' ? -1 : -2 - id.index;
}

/** A task named on the wire (a TaskResult carries no kind: its index says it). */
export function fromWire(index: number): TaskId {
  if (index <= KEYED_BASE) return keyedReduceTask(KEYED_BASE - index);
  return index >= 0 ? mapTask(index) : index === -1 ? REDUCE_TASK : combineTask(-2 - index);
}

/** A key for maps of tasks: the wire's integer (a string built per task cost tiny tasks ~0.3 µs each way). */
export function taskKey(id: TaskId): number {
  return toWire(id);
}

/** How a task is named in messages to people (a COMBINE is part of the reduce step). */
export function describeTask(id: TaskId): string {
  if (id.kind === 'KEYED_REDUCE') return `the reduce of partition ${id.index}`;
  return id.kind === 'MAP' ? `task ${id.index}` : 'the reduce step';
}

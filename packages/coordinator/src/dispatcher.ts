/**
 * Carries out a round's plan: for each assignment, the job hands out its
 * tasks (JobRecord.start: a fold step first, a batch no bigger than one
 * message may be), the store hears of re-runs and of a job that began, and
 * the node gets one Assign message with the tasks named as the wire names
 * them (and back: the tasks a lost node had).
 */
import type { TaskInput } from '@picompute/sdk/wire';
import type { AgentLink } from './agent-link.js';
import type { JobRecord } from './jobs/job-record.js';
import type { Next } from './jobs/next.js';
import { fromWire, toWire } from './jobs/task-id.js';
import type { TaskId } from './jobs/task-id.js';
import type { NodeRegistry } from './node-registry.js';
import type { Plan } from './scheduler/index.js';
import type { StateStore } from './state/store.js';

export interface DispatchTarget {
  store: StateStore;
  nodes: NodeRegistry;
  job(id: string): JobRecord | undefined;
  /** Does what a job's transition asks (here: the job ends, its fold step too big for a message). */
  apply(job: JobRecord, next: Next): void;
  /** The job changed: its watchers hear of it. */
  changed(job: JobRecord): void;
  /** Tasks went out (for metrics and the dashboard). */
  sent(nodeId: string, job: JobRecord, tasks: readonly TaskInput[]): void;
}

export function carryOut(plan: Plan, to: DispatchTarget): void {
  for (const a of plan) {
    const link = to.nodes.get(a.nodeId);
    const job = to.job(a.jobId);
    // A job may end while the plan is carried out (a fold too big for a message).
    if (link && job && !job.final) dispatch(link, job, a.tasks, to);
  }
}

export function dispatch(link: AgentLink, job: JobRecord, count: number, to: DispatchTarget): void {
  const now = Date.now();
  // A keyed job's reducers dial the nodes its maps ran on.
  job.shuffle?.nodeAt(link.id, link.address);
  const start = job.start(link.id, link.info?.cores ?? 0, count, now);
  if (start.kind === 'finish') {
    to.apply(job, start);
    return;
  }
  // Offered only backups of tasks this very node runs: nothing to send.
  if (start.tasks.length === 0) return;
  const tasks: TaskInput[] = [];
  for (const t of start.tasks) {
    if (t.id.kind === 'MAP' && t.attempt > 1) to.store.attempt(Number(job.id), t.id.index, t.attempt);
    tasks.push({ index: toWire(t.id), attempt: t.attempt, kind: t.id.kind, input: t.input, values: t.values });
  }
  if (start.began) to.store.started(Number(job.id), job.startedAt);
  link.send({ job: job.spec, tasks }, job.coresPerTask, job.request.memoryMb);
  to.sent(link.id, job, tasks);
  to.changed(job);
}

/** The tasks a lost node had in flight, by job, named as the coordinator names them. */
export function lostTasks(link: AgentLink): { count: number; byJob: Map<string, { id: TaskId; attempt: number }[]> } {
  const lost = link.inFlight();
  const byJob = new Map<string, { id: TaskId; attempt: number }[]>();
  for (const t of lost) {
    let tasks = byJob.get(t.jobId);
    if (!tasks) byJob.set(t.jobId, (tasks = []));
    tasks.push({ id: fromWire(t.index), attempt: t.attempt });
  }
  return { count: lost.length, byJob };
}

/**
 * One round of the coordinator's loop, as a pure step: the live jobs and the
 * nodes in, the plan (from ./schedule.ts) and the Slurm reasons of the jobs
 * that got nothing out. Like the scheduler it does no I/O and reads no
 * clock; ../dispatcher.ts carries the plan out.
 */
import type { JobReason } from '../jobs/job-reason.js';
import { canTakeWork, fitsNow } from './feasibility.js';
import { schedule } from './schedule.js';
import type { JobSnapshot, NodeSnapshot, Plan } from './types.js';

/** A live job as the round sees it. */
export interface LiveJob extends JobSnapshot {
  state: 'PENDING' | 'RUNNING';
}

export interface Round {
  plan: Plan;
  /** Why each PENDING job that could run but got nothing this round waits: NoNodes, Priority or Resources. */
  reasons: Map<string, JobReason>;
  /** Jobs with tasks to place whose shape no node that can take work fits now (./parking.ts sets them aside). */
  unplaceable: LiveJob[];
  /** What the reason of a job left waiting depends on, besides its priority (see `waitReason`). */
  anyUp: boolean;
  runningPriority: number;
}

/** Why a PENDING job that got nothing waits, given whether any node is up and the highest priority holding cores. */
export function waitReason(anyUp: boolean, runningPriority: number, job: Pick<LiveJob, 'priority'>): JobReason {
  return !anyUp ? 'NoNodes' : runningPriority > job.priority ? 'Priority' : 'Resources';
}

/** Some node that can take work now fits a job of this shape. */
export function fitsSomeNode(nodes: readonly NodeSnapshot[], job: LiveJob): boolean {
  return nodes.some((n) => canTakeWork(n) && fitsNow(n, n.freeSlots, n.freeMemoryMb, job));
}

export function reconcile(jobs: readonly LiveJob[], nodes: readonly NodeSnapshot[]): Round {
  const usage = new Map<string, number>();
  for (const j of jobs) if (j.running > 0) usage.set(j.user, (usage.get(j.user) ?? 0) + j.running * j.coresPerTask);
  const waiting = jobs.filter((j) => j.runnable > 0);
  // Only jobs of a shape some node could take now go to the scheduler: the plan is the same (nodes only fill
  // up during it), and 10,000 queued jobs wanting a busy node no longer cost a sort of all of them each round.
  const open = nodes.filter(canTakeWork);
  // By constraint, then cores and memory as one number: no string made per job and round.
  const shapes = new Map<string, Map<number, boolean>>();
  const mayFit = (j: LiveJob) => {
    const constraint = j.constraint ?? '';
    let sized = shapes.get(constraint);
    if (!sized) shapes.set(constraint, (sized = new Map()));
    const size = j.coresPerTask * 2 ** 32 + j.memoryMb;
    let fits = sized.get(size);
    if (fits === undefined) sized.set(size, (fits = open.some((n) => fitsNow(n, n.freeSlots, n.freeMemoryMb, j))));
    return fits;
  };
  const candidates: LiveJob[] = [];
  const unplaceable: LiveJob[] = [];
  for (const j of waiting) (open.length && mayFit(j) ? candidates : unplaceable).push(j);
  const plan = candidates.length ? schedule({ nodes, jobs: candidates, usage }) : [];
  const placed = new Set(plan.map((a) => a.jobId));
  // The highest priority holding cores once the plan is carried out (a PENDING job holds none).
  let runningPriority = -Infinity;
  for (const j of jobs) if (j.running > 0 || placed.has(j.id)) runningPriority = Math.max(runningPriority, j.priority);
  const anyUp = nodes.some((n) => n.health === 'up');
  const reasons = new Map<string, JobReason>();
  for (const j of waiting) {
    if (j.state !== 'PENDING' || placed.has(j.id)) continue;
    reasons.set(j.id, waitReason(anyUp, runningPriority, j));
  }
  return { plan, reasons, unplaceable, anyUp, runningPriority };
}

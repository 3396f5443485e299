/**
 * Tasks that outlive their coordinator: an agent whose coordinator went away
 * (SIGKILL and a restart, a standby's takeover) runs its tasks on and tells
 * the next coordinator which it holds, running or finished, before its hello.
 * Here that coordinator adopts those its jobs still wait for (./jobs/adopt.ts)
 * as running on that agent, so their results count instead of a second run;
 * the results of finished ones follow on the stream. A job it no longer
 * has (it ended: completed, cancelled), or another job under the same id
 * (told apart by when it was submitted: a state started afresh gives out
 * the same ids again), is cancelled on the agent.
 *
 * Tasks of jobs found running at start wait `ADOPT_GRACE_MS` before they are
 * placed again, so an agent that registers (every 2 s) or is found a moment
 * later still hands its tasks over rather than seeing them run elsewhere.
 */
import type { HeldTask } from '@picompute/sdk/wire';
import type { AgentLink } from './agent-link.js';
import { adoptTask } from './jobs/adopt.js';
import type { JobRecord } from './jobs/job-record.js';
import { fromWire } from './jobs/task-id.js';
import type { LiveJob } from './scheduler/index.js';

export const ADOPT_GRACE_MS = 2500;

export interface AdoptTarget {
  job(id: string): JobRecord | undefined;
  /** The job has tasks running again (`began`: it had not started before). */
  changed(job: JobRecord, began: boolean): void;
  log(line: string): void;
}

export function adoptHeld(link: AgentLink, held: readonly HeldTask[], to: AdoptTarget, now = Date.now()): void {
  if (!link.up || held.length === 0) return;
  /** By `id@submittedAt`: two jobs under one id are two jobs. */
  const ended = new Map<string, { id: string; submittedAt: number }>();
  const changed = new Set<JobRecord>();
  let running = 0;
  let finished = 0;
  let unwanted = 0;
  for (const t of held) {
    const job = to.job(t.jobId);
    if (!job || job.submittedAt !== (t.submittedAtMs ?? 0)) {
      ended.set(`${t.jobId}@${t.submittedAtMs ?? 0}`, { id: t.jobId, submittedAt: t.submittedAtMs ?? 0 });
      continue;
    }
    if (!adoptTask(job, link.id, link.info?.cores ?? 0, fromWire(t.index), t.attempt, now)) {
      unwanted++;
      continue;
    }
    link.adopt(t.jobId, t.index, t.attempt, job.coresPerTask, job.request.memoryMb);
    changed.add(job);
    if (t.finished) finished++;
    else running++;
  }
  for (const { id, submittedAt } of ended.values()) link.cancelHeld(id, submittedAt);
  for (const job of changed) {
    const began = job.state === 'PENDING';
    if (began) {
      job.state = 'RUNNING';
      job.reason = '';
      job.startedAt = now;
    }
    to.changed(job, began);
  }
  const notes = [
    unwanted ? `${unwanted} no longer wanted (done already or running elsewhere: their results are ignored)` : '',
    ended.size ? `job(s) ${[...new Set([...ended.values()].map((e) => e.id))].join(', ')} cancelled there (no longer running here)` : '',
  ].filter(Boolean);
  to.log(
    `agent ${link.id} holds ${held.length} task(s) from an earlier coordinator: adopted ${running} running and ${finished} finished${notes.length ? `; ${notes.join('; ')}` : ''}`,
  );
}

/** Holds back the tasks of jobs found running at start for a moment, for their agents to report them (see the header). */
export class RecoveryGrace {
  readonly #jobs: Set<string>;
  readonly #timer: NodeJS.Timeout | undefined;

  constructor(jobs: Iterable<JobRecord>, over: () => void, ms = ADOPT_GRACE_MS) {
    this.#jobs = new Set([...jobs].filter((j) => j.state === 'RUNNING').map((j) => j.id));
    if (this.#jobs.size)
      this.#timer = setTimeout(() => {
        this.#jobs.clear();
        over();
      }, ms);
  }

  /** The job as this round may place it. */
  hold(job: LiveJob): LiveJob {
    return this.#jobs.has(job.id) ? { ...job, runnable: 0 } : job;
  }

  close(): void {
    clearTimeout(this.#timer);
  }
}

/**
 * Backup tasks for stragglers (MapReduce §3.6, Hadoop's speculative
 * execution), for every job's map tasks (fold jobs too) and a keyed job's
 * reduces (not a fold's combine and reduce steps, which carry their values
 * in the message; nothing for a job submitted with `speculation: false`):
 *
 * - Only near the end of a phase (nothing of it left to start: until then
 *   free cores go to tasks that have not run at all), and only once a task
 *   of it has finished (the median of the phase's finished task times is
 *   the yardstick; with none there is no backup).
 * - A task gets one when it has run longer than twice that median and
 *   longer than `minMs` (10 s unless the coordinator's `backupAfterMs` says
 *   otherwise), timed from when it got a core (TaskRun.startedAt, an
 *   estimate: a task queued behind another on its agent is not a straggler
 *   for the wait), else from when it was sent.
 * - At most a tenth of the running tasks (at least one) have a backup at a
 *   time: first a task still waiting for a core behind a straggler (it
 *   would end last: all its work is ahead), then the longest running;
 *   never on the straggler's own node, and one backup per batch, so
 *   stopping it frees exactly its core.
 * - The first copy to finish counts, once (JobRecord's settle); the other
 *   is stopped on its agent (CancelTasks naming the run: the agent aborts
 *   its worker and frees the core), and its result is ignored should it
 *   still arrive. A copy that fails leaves its twin running as the task.
 * - The job counts backups run and won (JobStats.backups, backupsWon), kept
 *   in its row after it ends: `picompute jobs` shows them.
 */
import type { TaskRun } from './job-data.js';
import { taskKey } from './task-id.js';

export const BACKUP_AFTER_MS = 10_000;

/**
 * Finished task times of one phase (maps, or a keyed job's reduces): the
 * last SAMPLES of them, so a job of millions of tiny tasks holds a few KiB
 * here and a median costs a sort of at most that many.
 */
export class PhaseTimes {
  static readonly SAMPLES = 1024;
  readonly #ms: number[] = [];
  #next = 0;
  #median: number | undefined;

  add(ms: number): void {
    if (this.#ms.length < PhaseTimes.SAMPLES) this.#ms.push(ms);
    else this.#ms[this.#next] = ms;
    this.#next = (this.#next + 1) % PhaseTimes.SAMPLES;
    this.#median = undefined;
  }

  median(): number | undefined {
    if (!this.#ms.length) return undefined;
    this.#median ??= [...this.#ms].sort((a, b) => a - b)[this.#ms.length >> 1];
    return this.#median;
  }
}

/** The running tasks of a phase that deserve a backup now, within the cap: those still waiting for a core first, then the longest running. */
export function backupCandidates(
  running: Iterable<TaskRun>,
  backups: ReadonlyMap<number, TaskRun>,
  phase: (run: TaskRun) => PhaseTimes | undefined,
  now: number,
  minMs: number,
): TaskRun[] {
  const all = [...running];
  const cap = Math.max(1, Math.floor(all.length / 10)) - backups.size;
  if (cap <= 0) return [];
  const out: TaskRun[] = [];
  for (const run of all) {
    if (backups.has(taskKey(run.id))) continue;
    const median = phase(run)?.median();
    if (median === undefined) continue;
    // From when it got a core; one still queued on its agent counts from when it was sent: a wait of twice a
    // task's time means what runs ahead of it there is the straggler (perhaps a backup's loser, still running).
    const ran = now - (run.startedAt ?? run.since);
    if (ran > minMs && ran > 2 * median) out.push(run);
  }
  // One still waiting for a core behind a straggler first (all its work is ahead of it), then the longest running.
  return out
    .sort((a, b) => (a.startedAt === undefined ? 0 : 1) - (b.startedAt === undefined ? 0 : 1) || (a.startedAt ?? a.since) - (b.startedAt ?? b.since))
    .slice(0, cap);
}

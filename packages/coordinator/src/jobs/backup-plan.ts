/**
 * Backup tasks for stragglers (MapReduce §3.6, Hadoop's speculative
 * execution), for a keyed job: near the end of a phase (nothing of it left
 * to start), a task that has run longer than twice the phase's median task
 * time and longer than `minMs` (10 s unless the coordinator sets it) is
 * started once more on another node; the first to finish wins. At most a
 * tenth of the running tasks (at least one) have a backup at a time. The
 * median is of the phase's finished tasks: with none finished there is no
 * yardstick, and no backup.
 */
import type { TaskRun } from './job-data.js';
import { taskKey } from './task-id.js';

export const BACKUP_AFTER_MS = 10_000;

/** Finished task times of one phase (maps, or a keyed job's reduces). */
export class PhaseTimes {
  readonly #ms: number[] = [];
  #sorted = true;

  add(ms: number): void {
    this.#ms.push(ms);
    this.#sorted = false;
  }

  median(): number | undefined {
    if (!this.#ms.length) return undefined;
    if (!this.#sorted) {
      this.#ms.sort((a, b) => a - b);
      this.#sorted = true;
    }
    return this.#ms[this.#ms.length >> 1];
  }
}

/** The running tasks of a phase that deserve a backup now, longest running first, within the cap. */
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
  return out.sort((a, b) => (a.startedAt ?? a.since) - (b.startedAt ?? b.since)).slice(0, cap);
}

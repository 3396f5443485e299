/** What a user reads when a task is stopped rather than failing by itself. */
import { formatDuration } from '@picompute/sdk/units';
import type { JobSpec, TaskErrorKind } from '@picompute/sdk/wire';

export function failureMessage(kind: TaskErrorKind, job: Pick<JobSpec, 'timeLimitMs' | 'memoryMb'>, defaultMemoryMb: number, err?: unknown): string {
  switch (kind) {
    case 'TIMEOUT':
      return `exceeded its time limit of ${formatDuration(job.timeLimitMs)} and was stopped (raise it with --time-limit)`;
    case 'OUT_OF_MEMORY':
      return `ran out of memory: its worker's heap limit is ${job.memoryMb || defaultMemoryMb} MiB per task (raise it with --mem-per-task)`;
    default:
      return `its worker thread died: ${(err as Error | undefined)?.message ?? 'unknown reason'}`;
  }
}

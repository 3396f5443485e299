/** What a user reads when a task is stopped rather than failing by itself. */
import { formatDuration } from '@picompute/sdk/units';
import type { JobSpec, TaskErrorKind } from '@picompute/sdk/wire';

export function failureMessage(kind: TaskErrorKind, job: Pick<JobSpec, 'timeLimitMs' | 'memoryMb'>, defaultMemoryMb: number, err?: unknown): string {
  switch (kind) {
    case 'TIMEOUT':
      return `exceeded its time limit of ${formatDuration(job.timeLimitMs)} and was stopped (raise it with \`timeLimit\`)`;
    case 'OUT_OF_MEMORY':
      return outOfMemoryMessage(job.memoryMb || defaultMemoryMb);
    default:
      return `its worker thread died: ${(err as Error | undefined)?.message ?? 'unknown reason'}`;
  }
}

/** The same words for a heap overrun (V8 stops the worker) and a Buffer overrun (our sampler does). */
export function outOfMemoryMessage(memoryMb: number): string {
  return `ran out of memory: its worker's heap limit is ${memoryMb} MiB per task (raise it with \`memPerTask\`)`;
}

/** A task's result that cannot fit in one message to the coordinator. */
export function outputTooBigMessage(bytes: number, limit: number, what = 'its output is'): string {
  return (
    `${what} ${(bytes / 1048576).toFixed(1)} MiB encoded; a task's output must stay under ${+(limit / 1048576).toFixed(1)} MiB: return less, or ` +
    'split the work into more tasks'
  );
}

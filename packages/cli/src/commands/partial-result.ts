/**
 * `picompute result ID --partial`: what a cancelled or failed job did
 * finish, by task index, and which tasks are missing (to run them again:
 * `picompute requeue ID --failed`).
 */
import { inspect } from 'node:util';
import type { JobHandle } from '@picompute/sdk/client';
import { EXIT_JOB_FAILED, EXIT_OK } from '../errors.js';
import { toJsonValue } from '../json.js';

/** `[3,4,5,9]` → `3-5, 9`: a thousand missing tasks stay one line. */
export function indexRanges(indices: readonly number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < indices.length; i++) {
    const from = indices[i]!;
    while (i + 1 < indices.length && indices[i + 1] === indices[i]! + 1) i++;
    parts.push(from === indices[i] ? String(from) : `${from}-${indices[i]}`);
  }
  return parts.join(', ');
}

/** Exit 0 when nothing is missing, 1 otherwise, so a script can tell a whole result from a partial one. */
export async function printPartialResult(job: JobHandle, json: boolean): Promise<number> {
  const { state, outputs, missing } = await job.partialResult();
  if (json) {
    const values = Object.fromEntries([...outputs].map(([i, v]) => [i, toJsonValue(v)]));
    console.log(JSON.stringify({ jobId: job.id, state, values, missing }));
  } else {
    console.log(inspect(outputs, { depth: 6, maxArrayLength: 100 }));
    const total = outputs.size + missing.length;
    process.stderr.write(`job ${job.id} ${state}: ${outputs.size} of ${total} tasks finished${missing.length ? `; missing: ${indexRanges(missing)}` : ''}\n`);
  }
  return missing.length ? EXIT_JOB_FAILED : EXIT_OK;
}

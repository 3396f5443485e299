/**
 * `picompute submit --stream`: one JSON line per map output as its task
 * finishes, `{"index":N,"value":…}` (GNU parallel's --results, Dask's
 * as_completed), so a pipeline can start on the first results at once. A
 * fold job's result follows as a last line, `{"result":…}`.
 */
import { JobFailedError } from '@picompute/sdk/client';
import type { JobHandle } from '@picompute/sdk/client';
import { EXIT_JOB_FAILED, EXIT_OK } from '../errors.js';
import { toJsonValue } from '../json.js';
import { flagsIn } from '../option-flags.js';

export async function streamOutputs(job: JobHandle, folds: boolean): Promise<number> {
  let count = 0;
  try {
    for await (const { index, value } of job.outputs()) {
      console.log(JSON.stringify({ index, value: toJsonValue(value) }));
      count++;
    }
  } catch (err) {
    if (!(err instanceof JobFailedError)) throw err;
    process.stderr.write(`job ${job.id} ${err.event.state} after ${count} of ${err.event.tasksTotal} outputs: ${flagsIn(err.event.error)}\n`);
    return EXIT_JOB_FAILED;
  }
  if (folds) console.log(JSON.stringify({ result: toJsonValue(await job.result()) }));
  process.stderr.write(`job ${job.id} completed: ${count} outputs\n`);
  return EXIT_OK;
}

/**
 * A job's `shared(args)` value (Dask's scatter): computed once at submit
 * time, encoded, named by its sha256, and refused when too big, before
 * anything is submitted.
 */
import { JobFileError, sha256 } from './bundle.js';
import { encode } from './codec.js';
import type { AnyJobDefinition, JobArgs } from './job.js';
import { MAX_SHARED_BYTES } from './wire/options.js';

const mib = (bytes: number) => `${(bytes / 1048576).toFixed(1)} MiB`;

export async function encodeShared(job: AnyJobDefinition, args: JobArgs, file: string): Promise<{ hash: string; bytes: Buffer } | undefined> {
  if (typeof job.shared !== 'function') return undefined;
  let bytes: Buffer;
  try {
    bytes = encode(await job.shared(args));
  } catch (err) {
    throw new JobFileError(`${file}: shared(args) failed: ${(err as Error).message}`);
  }
  if (bytes.length > MAX_SHARED_BYTES) {
    throw new JobFileError(
      `${file}: shared(args) is ${mib(bytes.length)} encoded; the limit is ${mib(MAX_SHARED_BYTES)} (every node keeps it and each worker thread ` +
        'decodes its own copy): share less, or read the data from a file every node has',
    );
  }
  return { hash: sha256(bytes), bytes };
}

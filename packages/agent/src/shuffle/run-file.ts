/**
 * Sorted runs on this agent's disk, in the format of
 * `@picompute/sdk/run-format` (a record per key): written whole (to a
 * temporary name, then renamed, so a reader never sees half a run) and read
 * back as a stream, a batch of records per chunk read, so a merge of many
 * runs holds one chunk per run, not the runs.
 */
import { createReadStream } from 'node:fs';
import { RunWriter, recordBatches } from '@picompute/sdk/run-format';
import type { RunRecord } from '@picompute/sdk/run-format';

export type { RunRecord };

const READ_CHUNK = 256 * 1024;

/** Writes `records` (already in key order) to `path`; returns its size in bytes. */
export function writeRun(path: string, records: Iterable<RunRecord>): number {
  const out = new RunWriter(path);
  try {
    for (const [key, values] of records) out.add(key, values);
  } catch (err) {
    out.abort();
    throw err;
  }
  return out.close();
}

/** The records of a run file (a path, or a descriptor left open for the caller to close), in batches, in order. */
export function readRunBatches(file: string | number): AsyncGenerator<RunRecord[]> {
  const stream =
    typeof file === 'number'
      ? createReadStream('', { fd: file, autoClose: false, start: 0, highWaterMark: READ_CHUNK })
      : createReadStream(file, { highWaterMark: READ_CHUNK });
  return recordBatches(stream as AsyncIterable<Buffer>, typeof file === 'number' ? `run file (fd ${file})` : `run file ${file}`);
}

/** The records of a run file one at a time (tests, small runs). */
export async function* readRun(file: string | number): AsyncGenerator<RunRecord> {
  for await (const batch of readRunBatches(file)) yield* batch;
}

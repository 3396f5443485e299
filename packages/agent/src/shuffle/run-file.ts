/**
 * Sorted runs on this agent's disk, in the format of
 * `@picompute/sdk/run-format` (a record per key): written whole (to a
 * temporary name, then renamed, so a reader never sees half a run) and read
 * back a chunk at a time, a batch of records per chunk, so a merge of many
 * runs holds one chunk per run, not the runs.
 */
import { closeSync, openSync, readSync } from 'node:fs';
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

/**
 * The records of a run file (a path, or a descriptor left open for the
 * caller to close), in batches, in order: `chunkBytes` read at a time and no
 * more (no read-ahead), so a merge of many runs can size its memory.
 */
export function readRunBatches(file: string | number, chunkBytes = READ_CHUNK): AsyncGenerator<RunRecord[]> {
  return recordBatches(runChunks(file, chunkBytes), typeof file === 'number' ? `run file (fd ${file})` : `run file ${file}`);
}

/**
 * A run file's bytes, `chunkBytes` at a time (a merge reads them through a
 * RunCursor). Read synchronously: a reduce runs on a worker thread, where a
 * read from the page cache blocks nobody else, and an fs.read callback and
 * its promise per chunk cost more than the read.
 */
export async function* runChunks(file: string | number, chunkBytes = READ_CHUNK): AsyncGenerator<Buffer> {
  const fd = typeof file === 'number' ? file : openSync(file, 'r');
  try {
    for (let position = 0; ; ) {
      const buf = Buffer.allocUnsafe(chunkBytes);
      const n = readSync(fd, buf, 0, chunkBytes, position);
      if (n === 0) return;
      position += n;
      yield n < chunkBytes ? buf.subarray(0, n) : buf;
    }
  } finally {
    if (typeof file !== 'number') closeSync(fd);
  }
}

/** The records of a run file one at a time (tests, small runs). */
export async function* readRun(file: string | number): AsyncGenerator<RunRecord> {
  for await (const batch of readRunBatches(file)) yield* batch;
}

/**
 * Sorted runs on this agent's disk, in the format of
 * `@picompute/sdk/run-format` (a record per key; written whole by a
 * RunWriter, under a temporary name, then renamed, so a reader never sees
 * half a run), read back a chunk at a time, so a merge of many runs holds one
 * chunk per run, not the runs.
 */
import { closeSync, openSync, readSync } from 'node:fs';

const READ_CHUNK = 256 * 1024;

/**
 * A run file's bytes (a path, or a descriptor left open for the caller to
 * close), `chunkBytes` at a time and no more (no read-ahead), for a merge to
 * read through a RunCursor. Read synchronously: a reduce runs on a worker
 * thread, where a read from the page cache blocks nobody else, and an
 * fs.read callback and its promise per chunk cost more than the read.
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

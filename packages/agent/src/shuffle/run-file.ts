/**
 * Sorted runs on this agent's disk, in the format of
 * `@picompute/sdk/run-format` (a record per key; written whole by a
 * RunWriter, under a temporary name, then renamed, so a reader never sees
 * half a run), read back a chunk at a time, so a merge of many runs holds one
 * chunk per run, not the runs.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { shuffleBuffers } from '@picompute/sdk/buffer-shelf';

const READ_CHUNK = 256 * 1024;

/**
 * A run file's bytes (a path, or a descriptor left open for the caller to
 * close), `chunkBytes` at a time and no more (no read-ahead), for a merge to
 * read through a RunCursor. Read synchronously: a reduce runs on a worker
 * thread, where a read from the page cache blocks nobody else, and an
 * fs.read callback and its promise per chunk cost more than the read.
 *
 * The chunks are read into two buffers in turn, taken from this thread's
 * shelf (@picompute/sdk/buffer-shelf) and put back at the end: a chunk is
 * overwritten by the read after the next one, so a caller uses it (or copies
 * what it keeps) before it asks for the chunk after next, as a RunCursor
 * does (it holds the latest chunk, or its own copy of a record cut by one).
 */
export async function* runChunks(file: string | number, chunkBytes = READ_CHUNK): AsyncGenerator<Buffer> {
  const fd = typeof file === 'number' ? file : openSync(file, 'r');
  const buffers = [shuffleBuffers.take(chunkBytes), shuffleBuffers.take(chunkBytes)];
  try {
    for (let position = 0, turn = 0; ; turn ^= 1) {
      const buf = buffers[turn]!;
      const n = readSync(fd, buf, 0, chunkBytes, position);
      if (n === 0) return;
      position += n;
      yield buf.subarray(0, n);
    }
  } finally {
    for (const buf of buffers) shuffleBuffers.give(buf);
    if (typeof file !== 'number') closeSync(fd);
  }
}

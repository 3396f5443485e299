/**
 * Sends a job's input chunks after its submit (see ../chunk-ref.ts): only
 * those the coordinator said it lacks, started in task order (so the first
 * maps can start while the rest arrive), each read again from its file a
 * piece at a time and checked against the hash it was submitted under. At
 * most a piece of each chunk on its way is in memory here.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { CHUNK_BLOB_PREFIX } from '../chunk-ref.js';
import type { InputChunkSource } from '../prepare.js';
import { BLOB_CHUNK_BYTES } from '../wire/options.js';

/** Where a job's input upload stands; JobHandle.upload. */
export interface UploadProgress {
  /** Distinct chunks of the job, and their bytes. */
  chunks: number;
  bytes: number;
  /** Chunks the cluster had already (from an earlier submit): not sent. */
  chunksSkipped: number;
  /** Bytes of the chunks it lacked: what is sent in all. */
  bytesToSend: number;
  /** Chunks and bytes sent so far. */
  chunksSent: number;
  bytesSent: number;
  done: boolean;
  /** Why the upload stopped, if it did (the job is then cancelled). */
  error?: Error;
}

/** Called before each chunk goes up (`next` is it) and once at the end; the upload waits for a promise it returns. */
export type UploadListener = (progress: Readonly<UploadProgress>, next?: InputChunkSource) => void | Promise<void>;

/** One chunk's bytes from its file (or memory, for a value of inputs(args)), in pieces; throws if a file's no longer match the hash. */
export async function* chunkPieces(chunk: InputChunkSource): AsyncGenerator<Buffer> {
  if (chunk.data) {
    for (let at = 0; at < chunk.data.length; at += BLOB_CHUNK_BYTES) yield chunk.data.subarray(at, at + BLOB_CHUNK_BYTES);
    return;
  }
  const hash = createHash('sha256');
  let read = 0;
  if (chunk.length > 0) {
    const stream = createReadStream(chunk.file, { start: chunk.offset, end: chunk.offset + chunk.length - 1, highWaterMark: BLOB_CHUNK_BYTES });
    for await (const piece of stream as AsyncIterable<Buffer>) {
      hash.update(piece);
      read += piece.length;
      yield piece;
    }
  }
  if (read !== chunk.length || hash.digest('hex') !== chunk.hash) {
    throw new Error(
      `input file ${chunk.file} changed while it was being submitted (bytes ${chunk.offset}–${chunk.offset + chunk.length - 1} are not what was read ` +
        'a moment before): submit again once it no longer changes',
    );
  }
}

/**
 * Chunks on their way at once: the next one's read and hash overlap the
 * coordinator's check, write and reply of the one before (each PutBlob
 * waits for its reply), while memory stays at a piece or two. Not measured
 * against one at a time on an idle machine yet.
 */
const UPLOADS_AT_ONCE = 2;

export async function uploadChunks(
  chunks: readonly InputChunkSource[],
  missing: ReadonlySet<string>,
  send: (name: string, pieces: AsyncIterable<Buffer>) => Promise<unknown>,
  progress: UploadProgress,
  listener?: UploadListener,
): Promise<void> {
  let failure: Error | undefined;
  const inFlight = new Set<Promise<void>>();
  try {
    for (const chunk of chunks) {
      if (!missing.has(chunk.hash)) continue;
      while (inFlight.size >= UPLOADS_AT_ONCE) await Promise.race(inFlight);
      if (failure) break;
      // Before the chunk starts, in order: a listener that waits holds back every chunk after this one.
      await listener?.(progress, chunk);
      const sent: Promise<void> = send(`${CHUNK_BLOB_PREFIX}${chunk.hash}`, chunkPieces(chunk))
        .then(
          () => {
            progress.chunksSent++;
            progress.bytesSent += chunk.length;
          },
          (err: Error) => {
            failure ??= err;
          },
        )
        .finally(() => inFlight.delete(sent));
      inFlight.add(sent);
    }
    await Promise.all(inFlight);
    if (failure) throw failure;
  } catch (err) {
    progress.error = err as Error;
    throw err;
  } finally {
    progress.done = true;
  }
  await listener?.(progress);
}

/**
 * An input chunk to an agent that asked for it (NeedBundle `chunk:<sha256>`
 * on its Work stream), read from the chunk store a piece at a time and sent
 * as `bundle` pieces; a chunk the store lacks (or cannot read) is refused
 * in words the agent puts on the failed task. The pieces are not held back
 * for a slow stream: one fetch holds at most a chunk (--split-size) here.
 */
import { BLOB_CHUNK_BYTES } from '@picompute/sdk/wire';
import { CHUNK_BLOB_PREFIX } from '@picompute/sdk/chunk-ref';
import type { AgentLink } from './agent-link.js';
import type { ChunkStore } from './chunk-store.js';

export async function sendChunk(link: AgentLink, name: string, chunks: ChunkStore | undefined, log: (line: string) => void): Promise<void> {
  const hash = name.slice(CHUNK_BLOB_PREFIX.length);
  const refuse = (why: string) => {
    log(`agent ${link.id} asked for input chunk ${hash.slice(0, 12)}…: ${why}`);
    link.sendBlobPiece(name, Buffer.alloc(0), true, `input chunk ${hash.slice(0, 12)}… ${why}`);
  };
  if (!chunks?.has(hash)) {
    return refuse("is not in the coordinator's chunk store (it was never sent, or was dropped from there since): submit the job again, which sends it again");
  }
  try {
    for await (const piece of chunks.read(hash, BLOB_CHUNK_BYTES)) link.sendBlobPiece(name, piece as Buffer, false);
  } catch (err) {
    // Gone from under the store (removed by hand): the next submit of the file must send it again.
    chunks.forget(hash);
    return refuse(`cannot be read from the coordinator's chunk store (${(err as Error).message}): submit the job again, which sends it again`);
  }
  link.sendBlobPiece(name, Buffer.alloc(0), true);
}

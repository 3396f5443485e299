/**
 * An input chunk to an agent that asked for it (NeedBundle `chunk:<sha256>`
 * on its Work stream), read from the chunk store a piece at a time and sent
 * as `bundle` pieces; a chunk the store lacks (or cannot read) is refused
 * in words the agent puts on the failed task. An agent's chunks go one
 * after another, each piece once the stream has taken the one before, so
 * what waits in memory here is a piece or two per agent, not the chunks of
 * its whole window.
 */
import { CHUNK_BLOB_PREFIX } from '@picompute/sdk/chunk-ref';
import type { AgentLink } from './agent-link.js';
import type { ChunkStore } from './chunk-store.js';

/** Small enough that the few in flight per agent cost little, big enough that a piece is not mostly framing. */
const PIECE_BYTES = 256 * 1024;

const queues = new WeakMap<AgentLink, Promise<void>>();

export function sendChunk(link: AgentLink, name: string, chunks: ChunkStore | undefined, log: (line: string) => void): Promise<void> {
  const next = (queues.get(link) ?? Promise.resolve()).then(() => send(link, name, chunks, log));
  queues.set(link, next);
  return next;
}

async function send(link: AgentLink, name: string, chunks: ChunkStore | undefined, log: (line: string) => void): Promise<void> {
  const hash = name.slice(CHUNK_BLOB_PREFIX.length);
  const refuse = (why: string) => {
    log(`agent ${link.id} asked for input chunk ${hash.slice(0, 12)}…: ${why}`);
    void link.sendBlobPiece(name, Buffer.alloc(0), true, `input chunk ${hash.slice(0, 12)}… ${why}`);
  };
  if (!chunks?.has(hash)) {
    return refuse("is not in the coordinator's chunk store (it was never sent, or was dropped from there since): submit the job again, which sends it again");
  }
  try {
    for await (const piece of chunks.read(hash, PIECE_BYTES)) await link.sendBlobPiece(name, piece as Buffer, false);
  } catch (err) {
    // Gone from under the store (removed by hand): the next submit of the file must send it again.
    chunks.lost(hash);
    return refuse(`cannot be read from the coordinator's chunk store (${(err as Error).message}): submit the job again, which sends it again`);
  }
  await link.sendBlobPiece(name, Buffer.alloc(0), true);
}

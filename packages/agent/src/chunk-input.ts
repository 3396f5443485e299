/**
 * A map task's input in the worker: decoded as usual, or, for a chunk
 * reference (@picompute/sdk/chunk-ref), the FileChunk (or the value of
 * inputs(args)) read from the agent's chunk cache, where the main thread made sure it is (and pinned it) before
 * the batch started. The chunk is read only when its task starts, so tasks
 * waiting in the agent's window hold no input in memory.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chunkPlace, decodeChunkRef, isChunkRef } from '@picompute/sdk/chunk-ref';
import { decode } from '@picompute/sdk/codec';

export function mapInput(bytes: Uint8Array, chunkDir: string | undefined): unknown {
  if (!isChunkRef(bytes)) return decode(bytes);
  const ref = decodeChunkRef(bytes)!;
  if (!chunkDir) throw new Error(`${chunkPlace(ref)} is a chunk reference, and this agent has no chunk cache to read it from`);
  const data = readFileSync(join(chunkDir, ref.hash));
  if (data.length !== ref.length) {
    throw new Error(
      `input chunk ${ref.hash.slice(0, 12)}… (${chunkPlace(ref)}) holds ${data.length} bytes on this agent, not the ${ref.length} it was submitted with`,
    );
  }
  // A value of inputs(args) sent as a chunk: the chunk is its encoding.
  if (ref.value !== undefined) return decode(data);
  return { path: ref.path, offset: ref.offset, data };
}

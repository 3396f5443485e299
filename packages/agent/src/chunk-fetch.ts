/**
 * Before a batch of map tasks runs: the input chunks its chunk-reference
 * inputs name, in the agent's cache (fetched from the coordinator if they
 * are not) and pinned there until the batch ends. A task whose chunk cannot
 * be had fails on its own with the reason (the coordinator's words when its
 * store lacks the chunk); the rest of the batch runs.
 */
import { CHUNK_BLOB_PREFIX, chunkPlace, decodeChunkRef, isChunkRef } from '@picompute/sdk/chunk-ref';
import type { ChunkRef } from '@picompute/sdk/chunk-ref';
import type { TaskOutcome } from './batch.js';
import type { ChunkCache, ChunkFetch } from './chunk-cache.js';

interface MapTask {
  index: number;
  attempt: number;
  input: Uint8Array;
}

export async function fetchChunks<T extends MapTask>(
  cache: ChunkCache,
  tasks: T[],
  agentId: string,
  request: (name: string) => ChunkFetch,
): Promise<{ ready: T[]; failed: TaskOutcome[]; release(): void }> {
  const refs = new Map<number, ChunkRef>();
  for (let i = 0; i < tasks.length; i++) {
    const input = tasks[i]!.input;
    if (isChunkRef(input)) refs.set(i, decodeChunkRef(input)!);
  }
  if (refs.size === 0) return { ready: tasks, failed: [], release: () => {} };
  const hashes = [...new Set([...refs.values()].map((r) => r.hash))];
  const got = await Promise.allSettled(hashes.map((h) => cache.acquire(h, request(`${CHUNK_BLOB_PREFIX}${h}`))));
  const problem = new Map<string, string>();
  const held: string[] = [];
  for (const [i, g] of got.entries()) {
    if (g.status === 'fulfilled') held.push(hashes[i]!);
    else problem.set(hashes[i]!, (g.reason as Error).message);
  }
  const ready: T[] = [];
  const failed: TaskOutcome[] = [];
  for (const [i, t] of tasks.entries()) {
    const ref = refs.get(i);
    const why = ref && problem.get(ref.hash);
    if (!why) {
      ready.push(t);
      continue;
    }
    failed.push({
      index: t.index,
      attempt: t.attempt,
      ok: false,
      error: {
        kind: 'THREW',
        message: `agent ${agentId} could not get its input (${chunkPlace(ref)}): ${why}`,
        stack: '',
        inputPreview: chunkPlace(ref),
      },
      logs: [],
      durationMs: 0,
      heapMb: 0,
    });
  }
  let released = false;
  return {
    ready,
    failed,
    release: () => {
      if (released) return;
      released = true;
      for (const h of held) cache.release(h);
    },
  };
}

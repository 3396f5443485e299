/**
 * One number for a task's run, its wire index and attempt: the key both the
 * coordinator (what it has in flight on an agent) and the agent (what it
 * holds) keep runs by. A string built per task cost tiny tasks ~0.3 µs each
 * way. Attempts stay far below 2^21, and a wire index (at most ±2^31) times
 * 2^21 stays a safe integer, so no two runs share a key.
 */
export const RUN_KEY_ATTEMPTS = 2_097_152;

export function runKey(index: number, attempt: number): number {
  return index * RUN_KEY_ATTEMPTS + attempt;
}

/** The index and attempt a runKey was made of. */
export function fromRunKey(key: number): { index: number; attempt: number } {
  // A negative index (fold steps, keyed reduces) leaves a negative remainder: the attempt is its positive residue.
  const attempt = ((key % RUN_KEY_ATTEMPTS) + RUN_KEY_ATTEMPTS) % RUN_KEY_ATTEMPTS;
  return { index: (key - attempt) / RUN_KEY_ATTEMPTS, attempt };
}

/**
 * Main-thread side of "a task's processes end with it": before a worker is
 * terminated (cancel, time limit, memory), its tasks' children are
 * SIGKILLed, group and all, and the worker gets a moment to reap them. A
 * terminated worker's event loop reaps nothing, and Node cannot waitpid()
 * another loop's child, so a child that dies after its worker is gone stays
 * a zombie under the agent until the agent exits; killing first avoids that
 * whenever the worker's loop still turns (a task awaiting something). A task
 * stuck in a synchronous loop cannot reap: its children are killed, but may
 * remain zombies.
 */
import { groupStillOurs, stateOfOurChild } from './process-groups.js';
import { MAX_TRACKED_CHILDREN } from './task-children.js';

export function childrenBuffer(): SharedArrayBuffer {
  return new SharedArrayBuffer(4 * (1 + MAX_TRACKED_CHILDREN));
}

/** Kills every child the batch's tasks started that still runs, then waits (up to `graceMs`) for the worker to reap them. */
export async function killBatchChildren(buffer: SharedArrayBuffer, graceMs = 500): Promise<void> {
  const view = new Int32Array(buffer);
  const count = Math.min(Atomics.load(view, 0), MAX_TRACKED_CHILDREN);
  const pids: number[] = [];
  for (let i = 1; i <= count; i++) {
    const pid = Atomics.load(view, i);
    if (pid <= 0) continue;
    // Each child leads its own group (./task-children.ts); the group may outlive its leader, and its number may
    // have gone to someone else's since (./process-groups.ts).
    if (groupStillOurs(pid)) killQuietly(-pid);
    const state = stateOfOurChild(pid);
    if (!state) continue;
    pids.push(pid);
    if (state !== 'Z') killQuietly(pid);
  }
  const until = Date.now() + graceMs;
  while (pids.some((pid) => stateOfOurChild(pid)) && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
}

function killQuietly(target: number): void {
  try {
    process.kill(target, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

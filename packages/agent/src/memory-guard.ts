/**
 * Holds a task to its memory limit off the V8 heap too. `resourceLimits`
 * bound only the heap: Buffers and typed arrays live outside it, so a task
 * could take a node's whole memory with them (1.5 GB under a 256 MiB limit).
 * This isolate's external memory (every ArrayBuffer's bytes; per worker
 * thread, cheap to read: ~0.4 µs) is checked
 *   - after each Buffer allocation through the Buffer API, so a loop that
 *     never yields is stopped at once, and
 *   - every 20 ms while a task waits, for memory gathered any other way.
 * What counts is the growth since the task started: the batch's inputs
 * already sit in this isolate's external memory (a batch of many inputs may
 * well outweigh one task's limit), and so may a previous task's garbage.
 * Past the limit the guard raises a flag the main thread watches (it then
 * terminates the worker, see ./run-batch.ts) and throws, to stop the loop.
 * A loop that never yields and allocates only typed arrays directly
 * (`new Uint8Array(n)`) is not seen until it yields or calls the Buffer API.
 */
import { getHeapStatistics } from 'node:v8';
import { outOfMemoryMessage } from './failure-message.js';

/**
 * Slot of the batch's shared progress array where the worker puts the
 * ordinal + 1 of the task that went over (0: none). Kept for the rest of the
 * worker call, so the main thread blames that task even if it sees the flag late.
 */
export const OVER_LIMIT_SLOT = 2;

const externalBytes = () => getHeapStatistics().external_memory;

export class MemoryOverrun extends Error {
  override name = 'MemoryOverrun';
}

let active: { limitBytes: number; baseline: number; memoryMb: number; progress: Float64Array; ordinal: number; over: boolean } | undefined;

/** Checks now; past the limit, flags it and throws. */
function check(): void {
  if (!active) return;
  if (externalBytes() - active.baseline <= active.limitBytes) return;
  active.over = true;
  active.progress[OVER_LIMIT_SLOT] = active.ordinal + 1;
  throw new MemoryOverrun(outOfMemoryMessage(active.memoryMb));
}

/** True when the running task went over its limit (whatever it did with the error). */
export function overran(): boolean {
  return Boolean(active?.over);
}

/**
 * One sampler per worker, not one per task: a timer made and cleared per
 * task cost ~3 µs, a tenth of a tiny task's budget. It does not fire while
 * the worker idles (piscina parks it in Atomics.wait).
 */
let _sampler: NodeJS.Timeout | undefined;

/** Guards one task from `baseline` (this isolate's external memory as the task starts): returns a function that ends the guard. */
export function guardTask(memoryMb: number, progress: Float64Array, ordinal: number, baseline = externalBytes()): () => void {
  active = { limitBytes: memoryMb * 1048576, baseline, memoryMb, progress, ordinal, over: false };
  _sampler ??= setInterval(() => {
    try {
      check();
    } catch {
      // Flagged: the main thread stops the worker.
    }
  }, 20).unref();
  return () => {
    active = undefined;
  };
}

type Fn = (...args: never[]) => unknown;

/** Wraps the Buffer API's allocating functions once per worker so each allocation is checked. */
export function installBufferHooks(): void {
  for (const name of ['alloc', 'allocUnsafe', 'allocUnsafeSlow', 'from', 'concat'] as const) {
    const original = Buffer[name] as Fn;
    Object.defineProperty(Buffer, name, {
      value: function checked(this: unknown, ...args: never[]) {
        const result = original.apply(this, args);
        check();
        return result;
      },
      writable: true,
      configurable: true,
    });
  }
}

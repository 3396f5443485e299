/**
 * Worker side of "a task's processes end with it". Every way to start a
 * process without waiting for it (spawn, exec, execFile, fork) goes through
 * ChildProcess.prototype.spawn, so wrapping it here sees every child job
 * code starts in this worker thread, detached or not. Each is started in a
 * process group of its own (as `detached: true` does: setsid), so that what
 * it starts in turn (`sh -c 'sleep 600 &'`) can be killed with it; in the
 * agent's group, only the child itself could be. When the task ends the
 * groups still running are SIGKILLed; this thread's event loop then reaps
 * the children (init reaps the grandchildren). Their pids also go into the batch's shared `children`
 * array, so the main thread can kill them before it terminates a worker that
 * is stuck or cancelled (see ./task-processes.ts).
 * spawnSync/execSync wait for their child anyway, and are left alone.
 */
import { ChildProcess } from 'node:child_process';
import type { SpawnOptions } from 'node:child_process';
import { groupStillOurs } from './process-groups.js';

/** Int32Array over the batch's `children` buffer: [count, pid, pid, …]. */
export const MAX_TRACKED_CHILDREN = 255;

let running: { children: Set<ChildProcess>; shared: Int32Array } | undefined;

/** The method Node's spawn/exec/execFile/fork all call; public but missing from @types/node. */
type Spawnable = { spawn(this: ChildProcess, options: SpawnOptions): unknown };

export function installSpawnHook(): void {
  const proto = ChildProcess.prototype as unknown as Spawnable;
  const original = proto.spawn;
  proto.spawn = function spawn(this: ChildProcess, options: SpawnOptions) {
    const task = running;
    const result = original.call(this, task ? { ...options, detached: true } : options);
    if (task && this.pid) {
      task.children.add(this);
      const slot = Atomics.add(task.shared, 0, 1) + 1;
      if (slot <= MAX_TRACKED_CHILDREN) Atomics.store(task.shared, slot, this.pid);
    }
    return result;
  };
}

/**
 * Tracks the children the task about to run starts; returns what ends them
 * when it is done. That waits until this thread has reaped them (up to
 * `graceMs`): an idle piscina worker sleeps in Atomics.wait, its event loop
 * still, and would leave them zombies until its next task.
 */
export function trackTaskChildren(shared: Int32Array, graceMs = 1000): () => Promise<void> | undefined {
  const task = { children: new Set<ChildProcess>(), shared };
  running = task;
  return () => {
    if (running === task) running = undefined;
    // Nothing to wait for: no promise, so a tiny task pays no extra turn.
    return task.children.size ? endChildren(task.children, graceMs) : undefined;
  };
}

async function endChildren(children: Set<ChildProcess>, graceMs: number): Promise<void> {
  const reaped: Promise<unknown>[] = [];
  for (const child of children) {
    // exitCode/signalCode stay null until this loop has reaped it, so a pid we kill is still ours.
    if (child.exitCode !== null || child.signalCode !== null || !child.pid) {
      // Its group may outlive it (a shell's background job), and its number may have gone to someone else's since.
      if (child.pid && groupStillOurs(child.pid)) killQuietly(-child.pid);
      continue;
    }
    reaped.push(new Promise((resolve) => child.once('exit', resolve)));
    killQuietly(-child.pid);
    child.kill('SIGKILL');
  }
  if (!reaped.length) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([Promise.all(reaped), new Promise((resolve) => (timer = setTimeout(resolve, graceMs)))]);
  clearTimeout(timer);
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

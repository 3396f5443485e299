/**
 * The node's speed per core, measured once at start so the coordinator can
 * give a Pi 5 more of a job than a Pi 4 (and a node held back by a CPU
 * quota less). A fixed integer-and-float kernel runs in a worker thread (the
 * event loop stays free to answer the coordinator meanwhile) for a fixed
 * wall time, after a warm-up so the JIT has compiled it; the figure is
 * kernel runs a second. Wall time, not CPU time, on purpose: a core shared
 * with other work or capped by a cgroup quota finishes fewer tasks, and that
 * is what placement must know.
 */
import { Worker } from 'node:worker_threads';

/** Long enough to span a few 100 ms CFS quota periods (so a capped node measures its cap), short enough not to be noticed at start. */
export const DEFAULT_SPEED_PROBE_MS = 250;

// The kernel: xorshift32 and a little float work, like the Monte Carlo jobs agents run. Kept as source so it runs in an eval worker from src and dist alike.
const KERNEL = `
const { parentPort, workerData } = require('node:worker_threads');
function kernel(seed) {
  let x = seed | 0 || 1;
  let acc = 0;
  for (let i = 0; i < 100000; i++) {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
    const u = (x >>> 0) / 4294967296;
    if (u * u + 0.25 < 1) acc += u;
  }
  return acc;
}
let sink = 0;
for (let i = 0; i < 20; i++) sink += kernel(i + 1);
const start = performance.now();
let runs = 0;
while (performance.now() - start < workerData.ms) sink += kernel(++runs);
parentPort.postMessage({ runs, ms: performance.now() - start, sink });
`;

/** Kernel runs a second on one thread; 0 when the probe could not run (the coordinator then treats the node as average). */
export function measureSpeed(ms = DEFAULT_SPEED_PROBE_MS): { result: Promise<number>; stop(): void } {
  const worker = new Worker(KERNEL, { eval: true, workerData: { ms } });
  worker.unref();
  const result = new Promise<number>((resolve) => {
    worker.once('message', (m: { runs: number; ms: number }) => resolve(m.ms > 0 ? (m.runs * 1000) / m.ms : 0));
    worker.once('error', () => resolve(0));
    worker.once('exit', () => resolve(0));
  });
  void result.then(() => worker.terminate());
  return { result, stop: () => void worker.terminate() };
}

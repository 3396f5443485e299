/**
 * The node's speed per core, measured at start (and again when idle) so the coordinator can
 * give a Pi 5 more of a job than a Pi 4 (and a node held back by a CPU
 * quota less). A fixed integer-and-float kernel runs in a worker thread (the
 * event loop stays free to answer the coordinator meanwhile), after a
 * warm-up so the JIT has compiled it, in many short runs of ~0.1 ms on a
 * fast core; the figure is the median run's rate, kernel runs a second. The
 * median, because a run the scheduler preempted for another process is
 * slow through no fault of the core, and most runs are not preempted: two
 * probes of the same board agree to ~20 % even on a busy machine, where
 * the average over the wall time differs by several times. What a CPU
 * quota takes away (it stalls the whole process between bursts at full
 * speed) comes from the cgroup instead (./cpu-quota.ts).
 */
import { Worker } from 'node:worker_threads';
import { cpuQuotaCores } from './cpu-quota.js';
import type { CgroupPaths } from './cpu-quota.js';

/** Long enough for hundreds of runs on a Pi 4 even when the machine is busy, short enough not to be noticed at start. */
export const DEFAULT_SPEED_PROBE_MS = 150;

// The kernel: xorshift32 and a little float work, like the Monte Carlo jobs agents run. Kept as source so it runs in an eval worker from src and dist alike.
const KERNEL = `
const { parentPort, workerData } = require('node:worker_threads');
function kernel(seed) {
  let x = seed | 0 || 1;
  let acc = 0;
  for (let i = 0; i < 20000; i++) {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
    const u = (x >>> 0) / 4294967296;
    if (u * u + 0.25 < 1) acc += u;
  }
  return acc;
}
let sink = 0;
for (let i = 0; i < 100; i++) sink += kernel(i + 1);
const rates = [];
const start = performance.now();
while (performance.now() - start < workerData.ms) {
  const t = performance.now();
  sink += kernel(rates.length + 1);
  rates.push(1000 / (performance.now() - t));
}
rates.sort((a, b) => a - b);
parentPort.postMessage({ median: rates[rates.length >> 1] ?? 0, sink });
`;

/** The core's own speed: median kernel runs a second on one thread; 0 when the probe could not run (the coordinator then treats the node as fast). */
export function measureCore(ms = DEFAULT_SPEED_PROBE_MS): { result: Promise<number>; stop(): void } {
  const worker = new Worker(KERNEL, { eval: true, workerData: { ms } });
  worker.unref();
  const result = new Promise<number>((resolve) => {
    worker.once('message', (m: { median: number }) => resolve(Number.isFinite(m.median) ? m.median : 0));
    worker.once('error', () => resolve(0));
    worker.once('exit', () => resolve(0));
  });
  void result.then(() => worker.terminate());
  return { result, stop: () => void worker.terminate() };
}

/** How often an idle agent measures its speed again, by default: see NodeSpeed. */
export const DEFAULT_SPEED_REPROBE_MS = 10 * 60_000;

/**
 * Core speeds kept: the figure is the best of them, since what else runs can
 * only slow a probe, never speed it up; a node that really became slower
 * shows it once this many probes have seen it.
 */
const KEPT_PROBES = 3;

export interface NodeSpeedOptions {
  /** Worker threads sharing the process's CPU quota. */
  threads: () => number;
  /** No task runs: a probe now measures the core, not the load. */
  idle: () => boolean;
  probeMs?: number;
  /** Probe again this often while idle; 0 never. */
  everyMs?: number;
  cgroup?: CgroupPaths;
}

/**
 * Speed per core as placement sees it: the core's own speed, times the share
 * of a core each worker thread gets under the process's CPU quota (1 without
 * one). Measured at start, then again every `everyMs` when no task runs: a
 * probe at start may meet a busy machine (a Pi starting its services at
 * boot, the SMT sibling of a busy core), and that figure would otherwise
 * rank the node for its whole life; a quota changed since is seen too.
 */
export class NodeSpeed {
  readonly #cores: number[] = [];
  #share = 1;
  #probe: { result: Promise<number>; stop(): void } | undefined;
  #timer: NodeJS.Timeout | undefined;
  /** Probes finished (tests count them). */
  probes = 0;

  /** A probe is under way. */
  get probing(): boolean {
    return this.#probe !== undefined;
  }

  constructor(private readonly o: NodeSpeedOptions) {}

  /** Kernel runs a second per thread; 0 until the first probe answers (the coordinator then counts the node as fast). */
  get perCore(): number {
    return this.#cores.length ? Math.max(...this.#cores) * this.#share : 0;
  }

  start(): this {
    this.#measure();
    const every = this.o.everyMs ?? DEFAULT_SPEED_REPROBE_MS;
    if (every > 0) {
      this.#timer = setInterval(() => {
        if (!this.#probe && this.o.idle()) this.#measure();
      }, every).unref();
    }
    return this;
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#probe?.stop();
  }

  #measure(): void {
    const probe = measureCore(this.o.probeMs);
    this.#probe = probe;
    void Promise.all([probe.result, cpuQuotaCores(this.o.cgroup)]).then(([core, quota]) => {
      this.#probe = undefined;
      this.probes++;
      this.#share = Math.min(1, quota / Math.max(1, this.o.threads()));
      // A later probe that tasks started beside measured them as much as the core.
      if (core <= 0 || (this.#cores.length > 0 && !this.o.idle())) return;
      this.#cores.push(core);
      if (this.#cores.length > KEPT_PROBES) this.#cores.shift();
    });
  }
}

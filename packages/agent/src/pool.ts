/**
 * The agent's piscina pools: one thread per core, started when work arrives
 * and let go after `idleTimeoutMs` so an idle agent stays small. A job that
 * asks for a different per-task heap limit gets its own pool, because
 * `resourceLimits` is fixed per worker.
 */
import type { Piscina } from 'piscina';
import type { Batch, TaskOutcome } from './batch.js';
import { packTasks, unpackOutcomes } from './batch-packing.js';
import type { PackedOutcomes, WorkerBatch } from './batch-packing.js';

// Resolved by package name, not by this file's place, so the CLI's single-file build finds it too.
const WORKER_FILE = import.meta.resolve('@picompute/agent/worker');

export interface PoolOptions {
  threads: number;
  /** Default per-task heap limit (V8 old generation), MiB. */
  memoryMb: number;
  idleTimeoutMs?: number;
}

/** Job code gets the agent's environment minus the cluster key. */
function workerEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('PICOMPUTE_KEY')) env[k] = v;
  return env;
}

export class TaskPools {
  readonly #pools = new Map<number, Piscina<WorkerBatch, PackedOutcomes>>();

  constructor(readonly options: PoolOptions) {
    this.#freeCores = options.threads;
  }

  /** Worker calls running or queued, over every pool. */
  busy = 0;
  /** Cores not held by a running call; a task asking for c cores waits for c (Slurm's --cpus-per-task). */
  #freeCores: number;
  readonly #waiting: { cores: number; go: () => void }[] = [];

  async run(batch: Batch, memoryMb: number, cores: number, signal: AbortSignal): Promise<TaskOutcome[]> {
    this.busy++;
    const held = Math.min(cores, this.options.threads);
    try {
      await this.#acquire(held, signal);
      try {
        const pool = await this.#pool(memoryMb || this.options.memoryMb);
        const tasks = packTasks(batch.tasks);
        // The packed inputs are a copy made for this call: moved to the worker, not copied again.
        return unpackOutcomes(await pool.run({ ...batch, tasks }, { signal, transferList: [tasks.inputs.buffer as ArrayBuffer] }));
      } finally {
        this.#release(held);
      }
    } finally {
      this.busy--;
    }
  }

  #acquire(cores: number, signal: AbortSignal): Promise<void> {
    if (this.#waiting.length === 0 && this.#freeCores >= cores) {
      this.#freeCores -= cores;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const entry = { cores, go: () => (signal.removeEventListener('abort', abort), resolve()) };
      const abort = () => {
        this.#waiting.splice(this.#waiting.indexOf(entry), 1);
        reject(signal.reason);
      };
      signal.addEventListener('abort', abort, { once: true });
      this.#waiting.push(entry);
    });
  }

  #release(cores: number): void {
    this.#freeCores += cores;
    // First come, first served: a wide task is not starved by narrow ones behind it.
    while (this.#waiting.length && this.#freeCores >= this.#waiting[0]!.cores) {
      const next = this.#waiting.shift()!;
      this.#freeCores -= next.cores;
      next.go();
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.#pools.values()].map((p) => p.destroy()));
    this.#pools.clear();
  }

  async #pool(memoryMb: number): Promise<Piscina<WorkerBatch, PackedOutcomes>> {
    let pool = this.#pools.get(memoryMb);
    if (!pool) {
      // Loaded with the first task, not at start: piscina adds ~5 MiB to an idle agent's RSS.
      const { Piscina } = await import('piscina');
      pool = this.#pools.get(memoryMb);
      if (pool) return pool;
      pool = new Piscina<WorkerBatch, PackedOutcomes>({
        filename: WORKER_FILE,
        minThreads: 0,
        maxThreads: this.options.threads,
        idleTimeout: this.options.idleTimeoutMs ?? 30_000,
        resourceLimits: { maxOldGenerationSizeMb: memoryMb },
        env: workerEnv(),
      });
      this.#pools.set(memoryMb, pool);
    }
    return pool;
  }
}

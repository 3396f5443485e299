/**
 * The agent's piscina pools: one thread per core, started when work arrives
 * and let go after `idleTimeoutMs` so an idle agent stays small. A job that
 * asks for a different per-task heap limit gets its own pool, because
 * `resourceLimits` is fixed per worker.
 */
import { Piscina } from 'piscina';
import type { Batch, TaskOutcome } from './batch.js';

const WORKER_FILE = new URL('./worker.js', import.meta.url).href;

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
  readonly #pools = new Map<number, Piscina<Batch, TaskOutcome[]>>();

  constructor(readonly options: PoolOptions) {}

  /** Worker calls running or queued, over every pool. */
  busy = 0;

  async run(batch: Batch, memoryMb: number, signal: AbortSignal): Promise<TaskOutcome[]> {
    this.busy++;
    try {
      return await this.#pool(memoryMb || this.options.memoryMb).run(batch, { signal });
    } finally {
      this.busy--;
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.#pools.values()].map((p) => p.destroy()));
    this.#pools.clear();
  }

  #pool(memoryMb: number): Piscina<Batch, TaskOutcome[]> {
    let pool = this.#pools.get(memoryMb);
    if (!pool) {
      pool = new Piscina<Batch, TaskOutcome[]>({
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

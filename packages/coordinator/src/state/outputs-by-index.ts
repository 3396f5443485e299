/**
 * The stored map outputs of a job with their task indices: what a job that
 * ended without completing did finish (`picompute result ID --partial`),
 * and what a requeue need not run again.
 */
import type Database from 'better-sqlite3';
import type { MemoryOutputs } from './memory-outputs.js';

export class OutputsByIndex {
  readonly #all;

  /** `memory`: the store's outputs when its state dies with its process (StateStore.memoryOutputs). */
  constructor(
    db: Database.Database,
    private readonly memory?: MemoryOutputs,
  ) {
    this.#all = db.prepare('SELECT idx, output FROM outputs WHERE job_id = @job ORDER BY idx');
  }

  get(jobId: number): { indices: number[]; values: Buffer[] } {
    if (this.memory) {
      const rows = this.memory.page(jobId, 0, Infinity);
      return { indices: rows.map((r) => r.idx), values: rows.map((r) => r.output) };
    }
    const indices: number[] = [];
    const values: Buffer[] = [];
    for (const r of this.#all.iterate({ job: jobId }) as Iterable<{ idx: number; output: Buffer }>) {
      indices.push(r.idx);
      values.push(r.output);
    }
    return { indices, values };
  }
}

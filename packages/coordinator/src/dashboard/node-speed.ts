/**
 * Each node's speed per core, relative to the fastest, as `picompute bench`
 * measured it: its NPB EP job (named `bench-ep`) logs one line per task,
 * `{"batches":N,"ms":M}`, with the work done and the time it took on one
 * thread. The dashboard reads those lines as they pass (no RPC of its own);
 * each bench run replaces the figures of the last.
 */
import type { TaskResult } from '@picompute/sdk/wire';

/** The name `picompute bench` gives its EP job (packages/cli/src/commands/bench.ts). */
export const BENCH_EP_JOB = 'bench-ep';

export class NodeSpeeds {
  /** Job ids seen, and whether each is a bench EP job (looked up once per job). */
  readonly #isBench = new Map<string, boolean>();
  #run: { jobId: string; perNode: Map<string, { batches: number; ms: number }> } | undefined;
  #last = new Map<string, number>();

  constructor(private readonly jobName: (jobId: string) => string | undefined) {}

  taskEnded(node: string, r: TaskResult): void {
    if (!r.ok || !r.logs.length) return;
    let bench = this.#isBench.get(r.jobId);
    if (bench === undefined) this.#isBench.set(r.jobId, (bench = this.jobName(r.jobId) === BENCH_EP_JOB));
    if (!bench) return;
    if (this.#run?.jobId !== r.jobId) this.#run = { jobId: r.jobId, perNode: new Map() };
    for (const line of r.logs) {
      const m = /^\{"batches":(\d+),"ms":([\d.]+)\}$/.exec(line);
      if (!m) continue;
      const n = this.#run.perNode.get(node) ?? { batches: 0, ms: 0 };
      this.#run.perNode.set(node, { batches: n.batches + Number(m[1]), ms: n.ms + Number(m[2]) });
    }
  }

  jobEnded(jobId: string): void {
    this.#isBench.delete(jobId);
    if (this.#run?.jobId !== jobId) return;
    const rates = new Map([...this.#run.perNode].filter(([, v]) => v.ms > 0).map(([node, v]) => [node, v.batches / v.ms]));
    const fastest = Math.max(...rates.values());
    if (rates.size && fastest > 0) this.#last = new Map([...rates].map(([node, rate]) => [node, rate / fastest]));
    this.#run = undefined;
  }

  /** Relative speed per core (1 = the fastest node of the last bench), or undefined when not measured. */
  of(node: string): number | undefined {
    return this.#last.get(node);
  }
}

/**
 * After a restart, the coordinator asks each agent that comes back which
 * runs of the recovered keyed jobs it still holds (the ListRuns RPC, over
 * the same mutual TLS and per-call proof as every RPC), so maps whose runs
 * are there do not run again (./jobs/recovered-runs.ts). Maps whose node has
 * not answered within `graceMs` of the start run again: the node may never
 * come back, and the job would wait for it forever.
 */
import { formatDuration } from '@picompute/sdk/units';
import type { AgentLink } from './agent-link.js';
import type { JobRecord } from './jobs/job-record.js';
import type { Next } from './jobs/next.js';
import { runsListed, runsUnconfirmed } from './jobs/recovered-runs.js';

/** How long a restarted coordinator waits for the nodes holding recovered keyed jobs' runs (agents beat every second). */
export const RUNS_GRACE_MS = 30_000;

export class RunChecks {
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly jobs: () => Iterable<JobRecord>,
    private readonly apply: (job: JobRecord, next: Next) => void,
    private readonly kick: () => void,
    private readonly log: (line: string) => void,
    private readonly graceMs = RUNS_GRACE_MS,
  ) {}

  /** Once the recovered jobs are in: the grace period starts if any of them waits for its nodes' word. */
  start(): void {
    const waiting = [...this.jobs()].filter((j) => j.shuffle?.unconfirmedNodes.size);
    if (!waiting.length) return;
    const nodes = new Set(waiting.flatMap((j) => [...j.shuffle!.unconfirmedNodes]));
    this.log(
      `${waiting.length} keyed job(s) have map runs on ${[...nodes].join(', ')}: their maps run again unless those nodes confirm them within ` +
        formatDuration(this.graceMs),
    );
    this.#timer = setTimeout(() => this.#expire(), this.graceMs);
    this.#timer.unref();
  }

  /** An agent is up (back, or new): it is asked for the runs of each job waiting for it. */
  nodeUp(link: AgentLink): void {
    for (const job of this.jobs()) {
      if (!job.shuffle?.unconfirmedNodes.has(link.id)) continue;
      link.listRuns(job.id).then(
        (held) => {
          // Gone again while it answered: asked again when it is back.
          if (!link.up) return;
          this.#done(job, runsListed(job, link.id, link.address, new Set(held)));
        },
        (err: Error) => this.#done(job, runsUnconfirmed(job, link.id, `its node ${link.id} could not list the runs it holds (${err.message})`)),
      );
    }
  }

  close(): void {
    clearTimeout(this.#timer);
  }

  #done(job: JobRecord, next: Next): void {
    if (job.final) return;
    this.apply(job, next);
    this.kick();
  }

  #expire(): void {
    const why = `its node did not come back within ${formatDuration(this.graceMs)}`;
    for (const job of this.jobs()) if (job.shuffle?.unconfirmedNodes.size) this.#done(job, runsUnconfirmed(job, undefined, why));
  }
}

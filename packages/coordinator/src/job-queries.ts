/**
 * Reading jobs, live or ended: summaries (`jobs`), users' shares, results
 * (whole, paged, partial), task tables and logs; and reopening an ended
 * job for `requeue --failed`. A live job is read from its JobRecord, an
 * ended one from the state database.
 */
import { FINAL_STATES } from '@picompute/sdk/wire';
import type { JobSummary, LogLine, TaskStatus, UserShare } from '@picompute/sdk/wire';
import { JobRecord } from './jobs/job-record.js';
import { summaryFromRow } from './jobs/job-views.js';
import { isKeyedRow, keyedResult } from './jobs/keyed-result.js';
import type { NodeRegistry } from './node-registry.js';
import type { OutputsByIndex } from './state/outputs-by-index.js';
import type { RequeueStore } from './state/requeue.js';
import type { StateStore } from './state/store.js';
import type { TaskRuns } from './state/task-runs.js';
import { UserError } from './submit-checks.js';
import { TaskTable } from './task-table.js';

type Occupancy = Map<string, { running: number; queued: number; cores: number }>;

export class JobQueries {
  constructor(
    private readonly store: StateStore,
    private readonly live: Map<string, JobRecord>,
    private readonly nodes: NodeRegistry,
    private readonly taskRuns: TaskRuns,
    private readonly outputsByIndex: OutputsByIndex,
    private readonly requeueStore: RequeueStore,
  ) {}

  #liveSummary(job: JobRecord, occupancy: Occupancy = this.nodes.occupancy()): JobSummary {
    const o = occupancy.get(job.id);
    // Set on the fresh summary, not spread into a copy: spreading then overriding is V8's slow path (see summaryOf).
    const s = job.summary();
    s.tasksRunning = o?.running ?? 0;
    s.tasksQueued = o?.queued ?? 0;
    return s;
  }

  /** A live job, or a finished one read from the state database. */
  summary(id: string): JobSummary {
    const live = this.live.get(id);
    if (live) return this.#liveSummary(live);
    const row = /^\d+$/.test(id) ? this.store.job(Number(id)) : undefined;
    if (!row) throw new UserError(`no job with id ${id}`, true);
    return summaryFromRow(row);
  }

  /** A job's summary, or undefined when there is no such job. */
  find(id: string): JobSummary | undefined {
    const live = this.live.get(id);
    if (live) return live.summary();
    const row = /^\d+$/.test(id) ? this.store.job(Number(id)) : undefined;
    return row ? summaryFromRow(row) : undefined;
  }

  jobs(filter: { active?: boolean; finished?: boolean } = {}): JobSummary[] {
    const occupancy = this.nodes.occupancy();
    const live = [...this.live.values()].map((j) => this.#liveSummary(j, occupancy));
    if (filter.active) return live;
    const finished = this.store
      .jobs()
      .filter((r) => !this.live.has(String(r.id)))
      .map(summaryFromRow);
    if (filter.finished) return finished.filter((j) => j.endedAtMs > 0);
    return [...finished, ...live].sort((a, b) => Number(a.jobId) - Number(b.jobId));
  }

  /** Cores each user's tasks run on now (not the tasks queued in agents' windows), and their share of all in use. */
  shares(): UserShare[] {
    const occupancy = this.nodes.occupancy();
    const cores = new Map<string, number>();
    const jobs = new Map<string, number>();
    for (const j of this.live.values()) {
      jobs.set(j.user, (jobs.get(j.user) ?? 0) + 1);
      cores.set(j.user, (cores.get(j.user) ?? 0) + (occupancy.get(j.id)?.cores ?? 0));
    }
    const total = [...cores.values()].reduce((a, b) => a + b, 0);
    return [...jobs.keys()]
      .sort()
      .map((user) => ({ user, coresInUse: cores.get(user) ?? 0, share: total ? (cores.get(user) ?? 0) / total : 0, jobs: jobs.get(user)! }));
  }

  /** The stored result: one reduced value, or the map outputs in input order. */
  result(id: string): { reduced: boolean; keyed: boolean; values: Buffer[] } {
    const s = this.summary(id);
    if (s.state !== 'COMPLETED') throw new UserError(`job ${id} is ${s.state}, it has no result${s.error ? `: ${s.error}` : ''}`);
    const reduced = this.store.result(Number(id));
    if (reduced && isKeyedRow(this.store.job(Number(id)))) return keyedResult(reduced);
    if (reduced) return { reduced: true, keyed: false, values: [reduced] };
    const values = this.store.outputs(Number(id));
    // A purge (past --keep) deletes outputs a slice at a time before the job's row.
    if (values.length !== s.tasksTotal) throw new UserError(`job ${id}'s results are gone: it ended more than \`keepMs\` ago and is being purged`, true);
    return { reduced: false, keyed: false, values };
  }

  /**
   * The stored result as pages of at most `limit` values, for a caller that
   * sends each page before reading the next (GetResult): a job of a million
   * outputs is then never all in memory, nor read in one turn of the loop.
   */
  resultPages(id: string): { reduced: boolean; keyed: boolean; page(limit: number): Buffer[] } {
    const s = this.summary(id);
    if (s.state !== 'COMPLETED') throw new UserError(`job ${id} is ${s.state}, it has no result${s.error ? `: ${s.error}` : ''}`);
    const reduced = this.store.result(Number(id));
    if (reduced && isKeyedRow(this.store.job(Number(id)))) {
      const parts = keyedResult(reduced).values;
      let next = 0;
      return { reduced: false, keyed: true, page: (limit) => parts.slice(next, (next += limit)) };
    }
    if (reduced) {
      let sent = false;
      return { reduced: true, keyed: false, page: () => (sent ? [] : ((sent = true), [reduced])) };
    }
    this.store.flush();
    let next = 0;
    return {
      reduced: false,
      keyed: false,
      page: (limit) => {
        const rows = this.store.outputPage(Number(id), next, limit);
        // A purge (past --keep) deletes outputs a slice at a time before the job's row.
        if (rows.some((r, i) => r.idx !== next + i) || (rows.length === 0 && next < s.tasksTotal))
          throw new UserError(`job ${id}'s results are gone: it ended more than \`keepMs\` ago and is being purged`, true);
        next += rows.length;
        return rows.map((r) => r.output);
      },
    };
  }

  /** Each map task's state and last run; an ended job's from the state database. */
  tasks(id: string): TaskStatus[] {
    const live = this.live.get(id);
    if (live) return live.taskTable.rows();
    const s = this.summary(id);
    const saved = this.taskRuns.load(Number(id));
    if (!saved) throw new UserError(`job ${id} ended ${s.state} before this coordinator kept a record of each task; see \`picompute jobs\` for its totals`);
    return new TaskTable(s.tasksTotal, saved).rows();
  }

  /**
   * The map outputs of the tasks that finished, by index, of a job that
   * ended (a COMPLETED one's are all there). A live job's are refused: they
   * are still changing, and its result is on its way.
   */
  partialResult(id: string): { indices: number[]; values: Buffer[] } {
    const s = this.summary(id);
    if (!FINAL_STATES.has(s.state)) {
      throw new UserError(
        `job ${id} is still ${s.state}; \`partialResult\` is for a job that ended: wait for it (picompute result ${id}) or cancel it ` +
          `(picompute cancel ${id}) first`,
      );
    }
    if (isKeyedRow(this.store.job(Number(id)))) {
      throw new UserError(
        `job ${id} is a keyed job (reduceByKey): its map outputs are runs on the agents' disks, not values, so it has no partial result; submit it again`,
      );
    }
    this.store.flush();
    return this.outputsByIndex.get(Number(id));
  }

  logs(id: string): LogLine[] {
    this.summary(id);
    this.store.flush();
    return this.store.jobLogs(Number(id));
  }

  /** An ended job read back to run again the tasks that did not succeed (the caller makes it live). */
  reopen(id: string): JobRecord {
    const s = this.summary(id);
    if (!FINAL_STATES.has(s.state))
      throw new UserError(`job ${id} is still ${s.state}; requeue it once it has ended (or cancel it first: picompute cancel ${id})`);
    if (s.state === 'COMPLETED')
      throw new UserError(`job ${id} COMPLETED: every task succeeded, so there is nothing to run again; submit the job file again to run it anew`);
    this.store.flush();
    const tasks = this.requeueStore.tasks(Number(id));
    if (tasks.length !== s.tasksTotal) {
      throw new UserError(
        `job ${id}'s inputs were not kept (it ran on an embedded cluster, or ended on an older coordinator), so its tasks cannot run again; ` +
          'submit the job file again',
      );
    }
    return JobRecord.recover(this.requeueStore.reopen(this.store.job(Number(id))!), tasks);
  }
}

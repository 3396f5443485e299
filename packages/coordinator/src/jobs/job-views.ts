/**
 * What clients see of a job: its event (watchers) and summary (`jobs`),
 * from a live JobRecord or from a finished job's database row.
 */
import type { FinalJobState, JobEvent, JobSummary, LogLine, RunningTask, SubmitRequest } from '@picompute/sdk/wire';
import { statsFromRow } from '../state/store.js';
import type { JobEnd, JobRow, JobStats } from '../state/store.js';
import type { JobData } from './job-data.js';
import { toWire } from './task-id.js';

/** The `count` tasks out longest, longest first (one pass: a job may have thousands out). */
export function runningLongest(job: JobData, count = 3, now = Date.now()): RunningTask[] {
  const top: RunningTask[] = [];
  for (const { id, node, since } of job.running.values()) {
    const runningMs = now - since;
    if (top.length === count && runningMs <= top[count - 1]!.runningMs) continue;
    top.push({ index: toWire(id), node, runningMs });
    top.sort((a, b) => b.runningMs - a.runningMs);
    if (top.length > count) top.pop();
  }
  return top;
}

export function eventOf(job: JobData, logs: LogLine[] = []): JobEvent {
  return {
    jobId: job.id,
    state: job.state,
    // A keyed job's reduces are tasks too.
    tasksTotal: job.total + (job.shuffle?.partitions ?? 0),
    tasksDone: job.doneCount + (job.shuffle?.partsDone ?? 0),
    tasksRunning: job.running.size,
    retries: job.retries,
    error: job.error,
    logs,
    wallMs: job.wallMs(),
    cores: job.cores,
    nodes: [...job.nodes],
    reason: job.reason,
    runningLongest: runningLongest(job),
    shuffle: job.shuffle?.phases() ?? null,
  };
}

type Figures = 'wallMs' | 'attempts' | 'cpuMs' | 'maxHeapMb' | 'nodes' | 'startedAtMs' | 'endedAtMs' | 'cores' | 'backups' | 'backupsWon';

/**
 * A job's summary from its figures and the rest. Written out field by field: a literal that spreads the figures
 * and then sets a key they hold (tasksDone) falls off V8's fast path, ~30 µs a summary, 0.3 s for `queue` of
 * 10,000 jobs (benchmarks/queued-jobs.mjs).
 */
function summaryFrom(stats: JobStats, rest: Omit<JobSummary, Figures>, now = Date.now()): JobSummary {
  return {
    tasksDone: rest.tasksDone,
    wallMs: stats.startedAt ? (stats.endedAt || now) - stats.startedAt : 0,
    attempts: stats.attempts,
    cpuMs: stats.cpuMs,
    maxHeapMb: stats.maxHeapMb,
    nodes: stats.nodes,
    startedAtMs: stats.startedAt,
    endedAtMs: stats.endedAt,
    cores: stats.cores,
    jobId: rest.jobId,
    name: rest.name,
    state: rest.state,
    tasksTotal: rest.tasksTotal,
    submittedAtMs: rest.submittedAtMs,
    error: rest.error,
    user: rest.user,
    reason: rest.reason,
    priority: rest.priority,
    coresPerTask: rest.coresPerTask,
    tasksRunning: rest.tasksRunning,
    dependency: rest.dependency,
    tasksQueued: rest.tasksQueued,
    backups: stats.backups,
    backupsWon: stats.backupsWon,
  };
}

export function summaryOf(job: JobData): JobSummary {
  return summaryFrom(job.stats(), {
    jobId: job.id,
    name: job.request.name,
    state: job.state,
    tasksTotal: job.total + (job.shuffle?.partitions ?? 0),
    tasksDone: job.doneCount + (job.shuffle?.partsDone ?? 0),
    submittedAtMs: job.submittedAt,
    error: job.error,
    user: job.request.user,
    reason: job.reason,
    priority: job.request.priority,
    coresPerTask: job.coresPerTask,
    tasksRunning: job.running.size,
    dependency: job.request.dependency,
    tasksQueued: 0,
  });
}

/** A finished job's summary and final event, from its database row. */
export function summaryFromRow(row: JobRow): JobSummary {
  const request = JSON.parse(row.request) as SubmitRequest;
  const stats = statsFromRow(row);
  return summaryFrom(stats, {
    tasksDone: stats.tasksDone,
    jobId: String(row.id),
    name: row.name,
    state: row.state as FinalJobState,
    tasksTotal: row.tasks_total,
    submittedAtMs: row.submitted_at,
    error: row.error,
    user: row.user,
    reason: row.reason,
    priority: request.priority ?? 0,
    coresPerTask: Math.max(1, request.coresPerTask || 1),
    tasksRunning: 0,
    dependency: request.dependency ?? '',
    tasksQueued: 0,
  });
}

export function eventFromSummary(s: JobSummary): JobEvent {
  return {
    jobId: s.jobId,
    state: s.state,
    tasksTotal: s.tasksTotal,
    tasksDone: s.tasksDone,
    tasksRunning: 0,
    retries: Math.max(0, s.attempts - s.tasksTotal),
    error: s.error,
    logs: [],
    wallMs: s.wallMs,
    cores: s.cores,
    nodes: s.nodes,
    reason: s.reason,
    runningLongest: [],
    shuffle: null,
  };
}

/** What the state database keeps of a job that ended. */
export function endOf(job: JobData): JobEnd {
  return {
    ...job.stats(),
    state: job.state as FinalJobState,
    reason: job.reason,
    error: job.error,
    result: job.result,
  };
}

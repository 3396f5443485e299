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

/** A job's figures as its summary shows them (a live job's wall time runs to `now`). */
function figuresOf(stats: JobStats, now = Date.now()) {
  return {
    tasksDone: stats.tasksDone,
    wallMs: stats.startedAt ? (stats.endedAt || now) - stats.startedAt : 0,
    attempts: stats.attempts,
    cpuMs: stats.cpuMs,
    maxHeapMb: stats.maxHeapMb,
    nodes: stats.nodes,
    startedAtMs: stats.startedAt,
    endedAtMs: stats.endedAt,
    cores: stats.cores,
  };
}

export function summaryOf(job: JobData): JobSummary {
  return {
    ...figuresOf(job.stats()),
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
    backups: job.backupsRan,
    backupsWon: job.backupsWon,
  };
}

/** A finished job's summary and final event, from its database row. */
export function summaryFromRow(row: JobRow): JobSummary {
  const request = JSON.parse(row.request) as SubmitRequest;
  return {
    ...figuresOf(statsFromRow(row)),
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
    // Not kept past the job's end (yet): counted while it runs.
    backups: 0,
    backupsWon: 0,
  };
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

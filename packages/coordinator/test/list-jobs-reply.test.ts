/**
 * The ListJobs reply the coordinator encodes itself, keeping queued jobs'
 * summaries encoded: its bytes must be the generic codec's, and what a
 * client decodes must follow each change of a queued job (its reason, its
 * start), never an old encoding.
 */
import { describe, expect, it } from 'vitest';
import { wireServices } from '@picompute/sdk/wire';
import type { JobSummary, ListJobsReply } from '@picompute/sdk/wire';
import { ListJobsReplyEncoder } from '../src/list-jobs-reply.js';
import { JobInputs } from '../src/job-inputs.js';
import { JobRecord } from '../src/jobs/job-record.js';
import { request } from './support/build.js';

const codec = Object.values(wireServices().CoordinatorService.service).find((m) => m.path.endsWith('/ListJobs'))!;
const decode = (bytes: Buffer) => codec.responseDeserialize(bytes) as ListJobsReply;
const record = (id: string, tasks: number) =>
  new JobRecord(
    id,
    request({ taskCount: tasks, name: `job ${id}`, user: 'alice' }),
    JobInputs.fromFrames(Array.from({ length: tasks }, () => Buffer.from('i'))),
    1000,
  );
const shares = [{ user: 'alice', coresInUse: 2, share: 1, jobs: 3 }];

describe('ListJobs reply', () => {
  it('is byte for byte what the codec makes of the same jobs and shares', () => {
    const queued = record('1', 2);
    queued.reason = 'Resources';
    const running = record('2', 300);
    running.start('node-a', 4, 2, Date.now());
    const jobs: JobSummary[] = [queued.summary(), running.summary(), record('3', 0).summary()];
    const encoder = new ListJobsReplyEncoder();
    const mine = encoder.encode(jobs, shares).bytes;
    expect(mine.equals(codec.responseSerialize({ jobs, shares }))).toBe(true);
    // Again, from what it kept.
    expect(encoder.encode(jobs, shares).bytes.equals(mine)).toBe(true);
    expect(decode(mine).jobs.map((j) => [j.jobId, j.state, j.reason, j.tasksRunning])).toEqual([
      ['1', 'PENDING', 'Resources', 0],
      ['2', 'RUNNING', '', 2],
      ['3', 'PENDING', '', 0],
    ]);
    expect(decode(mine).shares).toEqual(shares);
  });

  it('shows a queued job as it is now: a new reason, then started, then gone', () => {
    const job = record('7', 3);
    job.reason = 'Priority';
    const encoder = new ListJobsReplyEncoder();
    const seen = () => decode(encoder.encode([job.summary()], []).bytes).jobs;
    expect(seen()[0]!.reason).toBe('Priority');
    job.reason = 'Resources';
    expect(seen()[0]!.reason).toBe('Resources');
    job.start('node-a', 2, 1, Date.now() - 50);
    expect(seen()[0]!).toMatchObject({ state: 'RUNNING', reason: '', tasksRunning: 1 });
    expect(seen()[0]!.wallMs).toBeGreaterThanOrEqual(50);
    expect(decode(encoder.encode([], []).bytes).jobs).toEqual([]);
  });
});

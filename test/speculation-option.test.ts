/**
 * Backups of stragglers are on unless a job turns them off: `speculation:
 * false` in its defineJob, or the submit option of that name (`submit
 * --no-backups`), which overrides the job's. The setting travels in the
 * submit request (`noBackups`); a value that is not true or false is refused
 * before anything is sent. (What the coordinator does with it:
 * packages/coordinator/test/job-backups.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import { prepareJob } from '@picompute/sdk/client';
import { fixture, runCli } from './support/cli.js';

describe('speculation: false (--no-backups)', () => {
  it('is off by default, set by the job or the submit option, and the option wins', async () => {
    expect((await prepareJob(fixture('sleep-tasks.ts'))).request.noBackups).toBe(false);
    expect((await prepareJob(fixture('sleep-tasks.ts'), { speculation: false })).request.noBackups).toBe(true);
    expect((await prepareJob(fixture('no-speculation.ts'))).request.noBackups).toBe(true);
    expect((await prepareJob(fixture('no-speculation.ts'), { speculation: true })).request.noBackups).toBe(false);
  });

  it('a job whose speculation is neither true nor false is refused at submit, naming it', async () => {
    const r = await runCli(['submit', fixture('bad-speculation.ts'), '--local']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('`speculation` must be true or false');
  });

  it('`submit --help` offers --no-backups', async () => {
    const help = (await runCli(['submit', '--help'])).stdout.replace(/\s+/g, ' ');
    expect(help).toContain("--no-backups no backup copies of straggling tasks on other nodes (the job's speculation: false)");
  });
});

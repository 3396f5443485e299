/**
 * --mem-per-task bounds a task's Buffers too, not only its V8 heap: the task
 * that goes over is stopped with the heap overrun's message, and the agent
 * keeps its memory and keeps serving.
 */
import { describe, expect, it } from 'vitest';
import { JobFailedError } from '@picompute/sdk/client';
import { fixture } from './support/cli.js';
import { useDaemonCluster } from './support/daemon-cluster.js';
import { rssMib } from './support/proc.js';

describe('a task gathering 512 MiB of Buffers under --mem-per-task 64M', () => {
  const cluster = useDaemonCluster(['--cores', '1']);

  it('is stopped as out of memory; the agent stays small and runs the next job', async () => {
    const job = await cluster.client.submit(fixture('buffer-hog.ts'), { memPerTask: '64M' });
    const err = await job.result().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(JobFailedError);
    expect((err as Error).message).toMatch(
      /task 1 failed .*\n[^]*ran out of memory: its worker's heap limit is 64 MiB per task \(raise it with `memPerTask`\)/,
    );
    // The agent never held the 512 MiB (an idle agent is ~60 MiB; a worker thread adds some).
    expect(rssMib(cluster.agent.proc.pid!)).toBeLessThan(300);

    const next = await cluster.client.submit(fixture('buffer-hog.ts'), { memPerTask: '64M', args: { mib: '8' } });
    expect(await next.result()).toEqual(['small', 8]);
  });

  it('is stopped too when it gathers typed arrays (no Buffer API) while it awaits', async () => {
    const job = await cluster.client.submit(fixture('buffer-hog.ts'), { memPerTask: '64M', args: { how: 'typed-async', mib: '256' } });
    const err = await job.result().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((err as Error).message).toMatch(/task 1 failed .*\n[^]*ran out of memory: its worker's heap limit is 64 MiB per task/);
    expect(rssMib(cluster.agent.proc.pid!)).toBeLessThan(300);
  });
});

/**
 * Task data that together (or alone) exceeds one message: results the agent
 * splits or, one too big, fails; inputs the coordinator batches under the
 * limit. The agent never drops off the cluster for it.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { JobFailedError } from '@picompute/sdk/client';
import { fixture } from './support/cli.js';
import { useDaemonCluster } from './support/daemon-cluster.js';
import { cgroupProblem, cpuGroup } from './support/cgroup.js';
import { cannotRun } from './support/requirements.js';

describe('an agent at the default 64 MiB message limit', () => {
  // One core; two tiny tasks first, so the coordinator batches the three big
  // ones into one worker call whose outcomes are queued in the same tick.
  const cluster = useDaemonCluster(['--cores', '1']);

  it('sends 3 × 30 MiB of outputs finished together in several messages; the job completes and the node stays up', async () => {
    const job = await cluster.client.submit(fixture('big-outputs.ts'), { args: { mib: '0,0,30,30,30' } });
    const result = await job.result<Buffer[]>();
    expect(result.slice(2).map((b) => [b.length, b[0], b.at(-1)])).toEqual([2, 3, 4].map((i) => [30 * 1048576, i, i]));
    expect(cluster.coordinator.output()).not.toMatch(/down \(/);
  });

  it('fails a fold whose values cannot fit in one message, saying why, instead of losing the node', async () => {
    const job = await cluster.client.submit(fixture('big-fold.ts'), { args: { n: '3', mib: '30' } });
    const err = await job.result().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(JobFailedError);
    expect((err as Error).message).toContain(
      'the reduce step needs 90.0 MiB of values in one message, over the 63.0 MiB a message may carry: return smaller map outputs',
    );
    expect(cluster.coordinator.output()).not.toMatch(/down \(/);
    const small = await cluster.client.submit(fixture('big-fold.ts'), { args: { n: '3', mib: '1' } });
    expect(await small.result()).toBe(3 * 1048576);
  });

  it('gets 12 quick tasks with 12 MiB inputs in Assigns under the limit; the job completes and the node stays up', async () => {
    const job = await cluster.client.submit(fixture('big-inputs.ts'), { args: { n: '12', mib: '12' } });
    expect(await job.result()).toEqual(Array.from({ length: 12 }, (_, i) => 12 * 1048576 + i));
    expect(cluster.coordinator.output()).not.toMatch(/down \(/);
  });
});

describe('an agent with --max-message 8M', () => {
  const cluster = useDaemonCluster(['--cores', '1', '--max-message', '8M']);

  it('fails only the task whose output cannot fit in one message, naming its size and the limit; the agent keeps serving', async () => {
    const split = await cluster.client.submit(fixture('big-outputs.ts'), { args: { mib: '3,3,3' } });
    expect((await split.result<Buffer[]>()).map((b) => b.length)).toEqual([3, 3, 3].map((m) => m * 1048576));

    const big = await cluster.client.submit(fixture('big-outputs.ts'), { args: { mib: '1,10' } });
    const err = await big.result().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(JobFailedError);
    expect((err as Error).message).toMatch(/task 1 failed .*\n[^]*its output is 10\.0 MiB encoded; a task's output must stay under 7 MiB: return less/);
    expect((err as Error).message).not.toMatch(/lost with its node/);

    const after = await cluster.client.submit(fixture('big-outputs.ts'), { args: { mib: '1,1' } });
    expect((await after.result<Buffer[]>()).map((b) => b[0])).toEqual([0, 1]);
    expect(cluster.coordinator.output()).not.toMatch(/down \(/);
  });
});

const problem = cgroupProblem();
if (problem) cannotRun('an agent held to a quarter of a core sending 60 MiB of outputs', problem);
else
  describe('an agent held to a quarter of a core (a CPU cgroup)', () => {
    const group = cpuGroup('picompute-test-slow-sender', 0.25);
    afterAll(() => group.remove());
    const cluster = useDaemonCluster(['--cores', '1', '--no-speed-probe'], { agentPrefix: group.prefix });

    // Encoding 60 MiB takes such a node seconds, and no heartbeat can pass the message on the stream: the agent
    // announces its size first, and the coordinator waits for it instead of taking the node for dead (3 s).
    it('sends 2 × 30 MiB of outputs in one message; the coordinator waits for it and the node stays up', async () => {
      const job = await cluster.client.submit(fixture('big-outputs.ts'), { args: { mib: '30,30' } });
      const result = await job.result<Buffer[]>();
      expect(result.map((b) => [b.length, b[0], b.at(-1)])).toEqual([0, 1].map((i) => [30 * 1048576, i, i]));
      expect(cluster.coordinator.output()).not.toMatch(/down \(/);
    });
  });

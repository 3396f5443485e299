/**
 * Issue #12, 7 to 10: what `nodes`, `queue` and `jobs` show, against a real
 * coordinator and a real two-core agent, each its own process on loopback.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCoordinator } from '@picompute/coordinator';
import { loadSecurity } from '@picompute/sdk/auth';
import type { NodeStatus } from '@picompute/sdk/wire';
import { fixture, KEY_FILE, runCli, startDaemon, stateDir } from './support/cli.js';
import type { Daemon } from './support/cli.js';
import { until } from './support/until.js';

describe('nodes, queue and jobs on a two-core agent', () => {
  let agent: Daemon;
  let coordinator: Daemon;
  const cli = (args: string[]) => runCli([...args, '--coordinator', coordinator.address]);
  const nodes = async (): Promise<NodeStatus[]> => JSON.parse((await cli(['nodes', '--json'])).stdout);

  beforeAll(async () => {
    agent = await startDaemon(['agent', '--host', '127.0.0.1', '--port', '0', '--cores', '2']);
    coordinator = await startDaemon(['coordinator', '--host', '127.0.0.1', '--port', '0', '--agent', agent.address]);
    await coordinator.waitFor(/agent .* up at /);
  });
  afterAll(async () => {
    await Promise.all([coordinator, agent].map((d) => d?.stop('SIGKILL')));
  });

  it('nodes shows the measured round trip, not the age of the last ping', async () => {
    // Pings go every 5 s and heartbeats every second: 3.5 s after the first ping its age would be ~3,500 ms.
    await new Promise((r) => setTimeout(r, 3500));
    const [node] = await nodes();
    expect(node!.rttMs).toBeGreaterThan(0);
    expect(node!.rttMs).toBeLessThan(500);
  });

  it('queue counts cores in use up to the cores there are, and tasks queued on the agent apart; jobs lists the running job', async () => {
    const submitted = await cli(['submit', fixture('busy.ts'), '--arg', 'n=8', '--arg', 'ms=20000', '--no-wait', '--json']);
    const { jobId } = JSON.parse(submitted.stdout);
    try {
      // The agent takes two tasks per core: four in flight on two cores.
      const q = await until('four tasks on the agent', async () => {
        const r = JSON.parse((await cli(['queue', '--json'])).stdout);
        const job = r.jobs.find((j: { jobId: string }) => j.jobId === jobId);
        return job && job.tasksRunning + job.tasksQueued === 4 ? r : undefined;
      });
      expect(q.jobs[0]).toMatchObject({ jobId, state: 'RUNNING', tasksRunning: 2, tasksQueued: 2 });
      expect(q.shares).toEqual([expect.objectContaining({ coresInUse: 2, share: 1, jobs: 1 })]);
      const table = (await cli(['queue'])).stdout;
      expect(table).toMatch(/\(2 cores, 1 jobs\)/);
      expect(table).toMatch(new RegExp(`^${jobId}\\s.*RUNNING\\s+0\\s+0/8\\s+2 \\+2 queued\\s`, 'm'));

      const jobs = JSON.parse((await cli(['jobs', '--json'])).stdout);
      expect(jobs.find((j: { jobId: string }) => j.jobId === jobId)).toMatchObject({ state: 'RUNNING', wallMs: expect.any(Number) });
      expect(jobs.find((j: { jobId: string }) => j.jobId === jobId).wallMs).toBeGreaterThan(0);
      expect((await cli(['jobs'])).stdout).toMatch(new RegExp(`^${jobId}\\s+busy\\s+\\S+\\s+RUNNING\\s+-\\s+\\d`, 'm'));
    } finally {
      await cli(['cancel', jobId]);
    }
  });
});

describe('a stopped agent stays listed', () => {
  it('as `down (stopped)` after SIGTERM, and after its mDNS goodbye (the coordinator forgets the link)', async () => {
    const agent = await startDaemon(['agent', '--host', '127.0.0.1', '--port', '0', '--cores', '1']);
    const coordinator = await startCoordinator({
      security: await loadSecurity({ keyFile: KEY_FILE }),
      stateDir: stateDir(),
      agents: [agent.address],
      log: () => {},
    });
    try {
      await until('the agent up', async () => (coordinator.cluster.nodes()[0]?.state === 'idle' ? true : undefined));
      expect(await agent.stop('SIGTERM')).toBe(0);
      const down = await until('the agent down', async () => coordinator.cluster.nodes().find((n) => n.state.startsWith('down')));
      expect(down).toMatchObject({ address: agent.address, state: 'down (stopped)' });
      // What the coordinator does when the agent's mDNS goodbye arrives (src/discovery.ts).
      coordinator.cluster.removeAgent(agent.address, 'it said goodbye');
      expect(coordinator.cluster.nodes()).toEqual([
        expect.objectContaining({ address: agent.address, state: 'down (stopped)', info: expect.objectContaining({ cores: 1 }) }),
      ]);
    } finally {
      await coordinator.close();
      await agent.stop('SIGKILL');
    }
  });
});

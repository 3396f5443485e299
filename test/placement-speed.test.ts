/**
 * Placement weighs each node's measured speed: two agents on this machine,
 * one held to 25 % of a core by a cgroup CPU quota. `nodes` shows their
 * speed factors at least 2.5× apart, and a 64-task job of equal CPU work
 * runs mostly on the fast one (counted by the node `picompute tasks` names
 * for each task). How much wall time that saves is a benchmark figure.
 * Once the quota is lifted, the idle agent's next probe (--speed-probe-every)
 * makes the two count alike.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cgroupProblem, cpuGroup } from './support/cgroup.js';
import type { CpuGroup } from './support/cgroup.js';
import { fixture, runCli, startDaemon } from './support/cli.js';
import type { Daemon } from './support/cli.js';
import { cannotRun } from './support/requirements.js';
import { until } from './support/until.js';

const problem = cgroupProblem();

if (problem) cannotRun('placement by measured speed (two agents, one in a 25 % CPU cgroup)', problem);
else
  describe('placement by measured speed', () => {
    const groups: CpuGroup[] = [];
    const daemons: Daemon[] = [];
    let target = '';
    let fast: Daemon;
    let slow: Daemon;

    beforeAll(async () => {
      const fastGroup = cpuGroup('picompute-test-fast');
      const slowGroup = cpuGroup('picompute-test-slow', 0.25);
      groups.push(fastGroup, slowGroup);
      // One after the other, so the two speed probes do not compete for the machine.
      const agent = ['agent', '--port', '0', '--host', '127.0.0.1', '--cores', '2', '--speed-probe-every', '1s'];
      fast = await startDaemon(agent, { prefix: fastGroup.prefix });
      daemons.push(fast);
      await new Promise((r) => setTimeout(r, 1000));
      slow = await startDaemon(agent, { prefix: slowGroup.prefix });
      daemons.push(slow);
      const coordinator = await startDaemon(['coordinator', '--port', '0', '--host', '127.0.0.1', '--agent', fast.address, '--agent', slow.address]);
      daemons.push(coordinator);
      target = coordinator.address;
    });

    afterAll(async () => {
      await Promise.all(daemons.map((d) => d.stop('SIGKILL')));
      for (const g of groups) g.remove();
    });

    type Node = { info: { id: string }; address: string; speedFactor: number };
    const nodes = async () => JSON.parse((await runCli(['nodes', '--json', '--coordinator', target])).stdout) as Node[];
    // Node ids are the host name and a hash, the same host for both: tell them apart by address.
    const ids = { fast: '', slow: '' };

    it('`nodes` shows the quota-held node at least 2.5× slower per core', async () => {
      const listed = await until('both agents measured their speed', async () => {
        const ns = await nodes();
        return ns.length === 2 && ns.every((n) => n.speedFactor > 0) ? ns : undefined;
      });
      const at = (d: Daemon) => listed.find((n) => n.address === d.address)!;
      ids.fast = at(fast).info.id;
      ids.slow = at(slow).info.id;
      console.log(`speed factors: fast ${at(fast).speedFactor.toFixed(2)}×, slow ${at(slow).speedFactor.toFixed(2)}×`);
      expect(at(slow).speedFactor).toBe(1);
      expect(at(fast).speedFactor).toBeGreaterThanOrEqual(2.5);
      const table = (await runCli(['nodes', '--coordinator', target])).stdout;
      const line = (d: Daemon) => table.split('\n').find((l) => l.endsWith(d.address))!;
      expect(line(fast)).toMatch(/\s\d+\/2\s+\d+\.\d×\s/);
      expect(line(slow)).toMatch(/\s\d+\/2\s+1\.0×\s/);
    });

    it('a 64-task job of equal work runs mostly on the fast node', async () => {
      const r = await runCli(['submit', fixture('fixed-work.ts'), '--arg', 'n=64', '--json', '--coordinator', target], { timeoutMs: 120_000 });
      expect(r.code, r.stderr).toBe(0);
      const { jobId, state } = JSON.parse(r.stdout);
      expect(state).toBe('COMPLETED');
      const tasks = JSON.parse((await runCli(['tasks', jobId, '--json', '--coordinator', target])).stdout) as { node: string }[];
      const ran = { fast: tasks.filter((t) => t.node === ids.fast).length, slow: tasks.filter((t) => t.node === ids.slow).length };
      console.log(`tasks run: fast ${ran.fast}, slow ${ran.slow}`);
      expect(ran.fast + ran.slow).toBe(64);
      expect(ran.fast).toBeGreaterThan(2 * ran.slow);
    });

    it("once the slow node's quota is lifted, its next idle probe makes the two count alike", async () => {
      groups[1]!.setQuota(undefined);
      const listed = await until('the slow node probed again without its quota', async () => {
        const ns = await nodes();
        return ns.length === 2 && Math.max(...ns.map((n) => n.speedFactor)) < 1.5 ? ns : undefined;
      });
      console.log(`speed factors after the lift: ${listed.map((n) => n.speedFactor.toFixed(2)).join(', ')}`);
    });
  });

/**
 * Backup tasks for stragglers, on real agents: three agents, one of them
 * (one core) held to 25 % of a core by a cgroup CPU quota (cgroup v1 `cpu`
 * controller's cpu.cfs_quota_us here, cpu.max where only v2 exists).
 *
 * - A fold job of three maps of equal CPU work (sized to ~6 s on a full
 *   core, so ~20 s on the slow one): the slow agent's map passes 10 s and
 *   twice the others' median, gets a backup on a fast agent that finishes
 *   first, and the slow copy is stopped on its agent (it never finishes its
 *   work, and the agent says it stopped it to free its core). `jobs --json`
 *   counts the backups, `picompute tasks` names them, and the answer is
 *   exact.
 * - Job count (MIT 6.5840's test): on the healthy agents, 8 maps sleeping
 *   2–5 s each run exactly once, with backups allowed after 2 s: what holds
 *   them back is the twice-the-median rule, and that a map queued behind
 *   another on its agent is timed from when it got a core.
 *
 * The agents run without their speed probe: with it, the coordinator would
 * know the slow one and give it few tasks (test/placement-speed.test.ts). A
 * node that turns slow after it started (heat, a noisy neighbour, a failing
 * disk) is what backups are for. How much time they save is a benchmark
 * figure (benchmarks/workloads/backups.mjs), not asserted here.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cgroupProblem, cpuGroup } from './support/cgroup.js';
import type { CpuGroup } from './support/cgroup.js';
import { fixture, runCli, startDaemon } from './support/cli.js';
import type { Daemon } from './support/cli.js';
import { cannotRun } from './support/requirements.js';
import { until } from './support/until.js';

const problem = cgroupProblem();
// A backup starts at twice the median (2T) and ends at 3T; the slow copy ends at rT, r the quota's 4× less what the
// machine's other load takes from the fast agents (3.5× seen at a load of 20 on 2 cores): T = 6 s leaves a margin.
const TASK_SECONDS = 6;

/** xorshift steps a second on one core of the fast group, measured there (the machine is shared: its load decides, not its spec). */
function stepsPerSecond(group: CpuGroup): number {
  const code =
    'let x=1,n=0;const t=Date.now();while(Date.now()-t<500){for(let k=1e6;k>0;k--){x^=x<<13;x^=x>>>17;x^=x<<5;}n+=1e6}' +
    'console.log(Math.round(n/((Date.now()-t)/1000))+(x===0?1:0))';
  return Number(execFileSync(group.prefix[0]!, [...group.prefix.slice(1), process.execPath, '-e', code], { encoding: 'utf8' }).trim());
}

type Summary = { jobId: string; state: string; backups: number; backupsWon: number; attempts: number; tasksTotal: number };

if (problem) cannotRun('backups of stragglers (three agents, one in a 25 % CPU cgroup)', problem);
else
  describe('backup tasks for stragglers', () => {
    const groups: CpuGroup[] = [];
    const daemons: Daemon[] = [];
    let fast: Daemon[] = [];
    let slow: Daemon;
    const agentArgs = (cores: number) => ['agent', '--host', '127.0.0.1', '--port', '0', '--cores', String(cores), '--no-speed-probe'];

    beforeAll(async () => {
      const fastGroup = cpuGroup('picompute-test-backups-fast');
      const slowGroup = cpuGroup('picompute-test-backups-slow', 0.25);
      groups.push(fastGroup, slowGroup);
      // The most weight cgroup v1 gives: on a machine busy with other work the fast agents still get whole cores, so
      // the 4× between them and the quota-held one is the quota's doing.
      if (fastGroup.dir.startsWith('/sys/fs/cgroup/cpu/')) writeFileSync(join(fastGroup.dir, 'cpu.shares'), '262144');
      // Two cores each, so the job-count test's 8 maps run in two waves; one for the slow agent, one thread under its quota.
      fast = await Promise.all([0, 1].map(() => startDaemon(agentArgs(2), { prefix: fastGroup.prefix })));
      slow = await startDaemon(agentArgs(1), { prefix: slowGroup.prefix });
      daemons.push(...fast, slow);
    });

    afterAll(async () => {
      await Promise.all(daemons.map((d) => d.stop('SIGKILL')));
      for (const g of groups) g.remove();
    });

    async function coordinator(agents: Daemon[], extra: string[] = []): Promise<string> {
      const c = await startDaemon(['coordinator', '--host', '127.0.0.1', '--port', '0', ...agents.flatMap((a) => ['--agent', a.address]), ...extra]);
      daemons.push(c);
      await until(`${agents.length} agents up`, async () => {
        const nodes = JSON.parse((await runCli(['nodes', '--json', '--coordinator', c.address])).stdout) as { state: string }[];
        return nodes.filter((n) => n.state !== 'down').length === agents.length || undefined;
      });
      return c.address;
    }

    const jobsJson = async (target: string) => JSON.parse((await runCli(['jobs', '--json', '--coordinator', target])).stdout) as Summary[];

    it("the slow agent's map gets a backup on a fast agent that finishes first; the slow copy is stopped there, the answer exact", async () => {
      const target = await coordinator([...fast, slow]);
      const work = Math.round(stepsPerSecond(groups[0]!) * TASK_SECONDS);
      const dir = mkdtempSync(join(tmpdir(), 'picompute-backups-'));
      const r = await runCli(
        ['submit', fixture('straggler-work.ts'), '--arg', 'n=3', '--arg', `work=${work}`, '--arg', `dir=${dir}`, '--json', '--coordinator', target],
        { timeoutMs: 120_000 },
      );
      expect(r.code, r.stderr).toBe(0);
      const { jobId, state, result } = JSON.parse(r.stdout);
      expect({ state, result }).toEqual({ state: 'COMPLETED', result: 0 + 1 + 4 });

      const marks = readdirSync(dir);
      const slowPid = String(slow.proc.pid);
      const onSlow = marks.filter((f) => f.startsWith('ran-') && f.endsWith(`-${slowPid}`)).map((f) => Number(f.split('-')[1]));
      expect(onSlow.length, `the slow agent ran none of the maps, so this test would prove nothing (markers: ${marks.join(' ')})`).toBeGreaterThan(0);
      for (const i of onSlow) {
        // Its backup ran on a fast agent and did all the work; the slow copy never did.
        expect(
          marks.some((f) => f.startsWith(`done-${i}-a2-`) && !f.endsWith(`-${slowPid}`)),
          marks.join(' '),
        ).toBe(true);
        expect(marks).not.toContain(`done-${i}-a1-${slowPid}`);
        // Stopped for losing, before the job's end stopped anything: the agent says so, freeing its core. Its log
        // line may come a moment after the client's result (the winner can be the job's last task).
        await slow.waitFor(
          new RegExp(`job ${jobId}: stopped task ${i} attempt 1: another copy of it finished first on another node; its core is free`),
          10_000,
        );
      }

      const job = (await jobsJson(target)).find((j) => j.jobId === jobId)!;
      expect(job).toMatchObject({ state: 'COMPLETED', backups: onSlow.length, backupsWon: onSlow.length });
      const table = (await runCli(['jobs', '--coordinator', target])).stdout;
      expect(table).toContain(`(${onSlow.length} backups, ${onSlow.length} won)`);
      const tasks = await runCli(['tasks', jobId, '--coordinator', target]);
      expect(tasks.stdout).toContain(`backups of stragglers: ${onSlow.length} run, ${onSlow.length} won`);
    }, 120_000);

    it('job count: on a healthy cluster, 8 maps sleeping 2–5 s each run exactly once (backups allowed after 2 s)', async () => {
      const target = await coordinator(fast, ['--backup-after', '2s']);
      const dir = mkdtempSync(join(tmpdir(), 'picompute-job-count-'));
      const r = await runCli(['submit', fixture('sleep-spread.ts'), '--arg', 'n=8', '--arg', `dir=${dir}`, '--json', '--coordinator', target], {
        timeoutMs: 120_000,
      });
      expect(r.code, r.stderr).toBe(0);
      const { jobId, result } = JSON.parse(r.stdout);
      expect(result).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
      const ran = readdirSync(dir).map((f) => f.split('-').slice(1, 3).join('-'));
      expect(ran.sort()).toEqual(['0-a1', '1-a1', '2-a1', '3-a1', '4-a1', '5-a1', '6-a1', '7-a1']);
      expect((await jobsJson(target)).find((j) => j.jobId === jobId)).toMatchObject({ backups: 0, backupsWon: 0, attempts: 8 });
    }, 120_000);
  });

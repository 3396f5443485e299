/**
 * Backups of stragglers (root, cgroups): three one-core agents, none with
 * its speed probe (the scheduler does not know which is slow: the case
 * backups are for, a node that turned slow after it started), two in a
 * group with the most CPU weight. The third is either as fast ("unharmed")
 * or held to 25 % of a core by a CPU quota ("slowed"). A fold job of 9
 * maps of equal CPU work (~5 s each on a full core, so the slowed agent's
 * take 15–20 s, past the 10 s rule, the quota's 4× less what the machine's
 * other load takes from the fast ones; it holds two, the second queued
 * behind the first) runs with backups (the default) and with
 * `--no-backups`; the figure
 * is the job's wall time, with the ratio of each to the unharmed run with
 * backups, and the backups `jobs --json` counted.
 * `--quick`: 6 maps of ~1 s, and the coordinator's `--backup-after 2s`.
 */
import { execFileSync } from 'node:child_process';
import { rmdirSync } from 'node:fs';
import { cgroupProblem, cpuGroup, ENTER } from '../lib/cgroups.mjs';
import { daemon, here, keyEnv, median, runCli, stop } from '../lib/harness.mjs';

/** xorshift steps a second on one core of `group`, measured in it. */
function stepsPerSecond(group) {
  const code =
    'let x=1,n=0;const t=Date.now();while(Date.now()-t<500){for(let k=1e6;k>0;k--){x^=x<<13;x^=x>>>17;x^=x<<5;}n+=1e6}' +
    'console.log(Math.round(n/((Date.now()-t)/1000))+(x===0?1:0))';
  return Number(execFileSync(ENTER[0], [...ENTER.slice(1), group, process.execPath, '-e', code], { encoding: 'utf8' }).trim());
}

export async function run({ quick, repeat, report }) {
  const problem = cgroupProblem();
  if (problem) return report.note(`backups workload skipped: ${problem}`);
  const { env } = keyEnv();
  const fastGroup = cpuGroup('picompute-bench-backups-fast', { v1Shares: 262144 });
  const slowGroup = cpuGroup('picompute-bench-backups-slow', { quota: 0.25, v1Shares: 262144 });
  const n = quick ? 6 : 9;
  const taskSeconds = quick ? 1 : 5;
  const agentArgs = ['agent', '--host', '127.0.0.1', '--port', '0', '--cores', '1', '--no-speed-probe'];
  const workload = `backups: 3 one-core agents, ${n} maps of ~${taskSeconds} s`;
  const agents = [];
  try {
    const work = Math.round(stepsPerSecond(fastGroup) * taskSeconds);
    for (let i = 0; i < 2; i++) agents.push(await daemon(agentArgs, env, [], [...ENTER, fastGroup]));
    const walls = {};
    for (const third of ['unharmed', 'slowed']) {
      const agent = await daemon(agentArgs, env, [], [...ENTER, third === 'slowed' ? slowGroup : fastGroup]);
      const coordinator = await daemon(
        [
          'coordinator',
          '--host',
          '127.0.0.1',
          '--port',
          '0',
          ...[...agents, agent].flatMap((a) => ['--agent', a.address]),
          ...(quick ? ['--backup-after', '2s'] : []),
        ],
        env,
      );
      try {
        await new Promise((r) => setTimeout(r, 1500));
        for (const backups of [true, false]) {
          const runs = [];
          let counted;
          for (let i = 0; i < repeat; i++) {
            const args = [
              'submit',
              here('jobs/fixed-work-fold.ts'),
              '--arg',
              `n=${n}`,
              '--arg',
              `work=${work}`,
              '--json',
              '--coordinator',
              coordinator.address,
            ];
            const r = await runCli(backups ? args : [...args, '--no-backups'], env);
            if (r.code !== 0) throw new Error(`submit failed: ${r.stderr}`);
            const out = JSON.parse(r.stdout);
            const expected = Array.from({ length: n }, (_, k) => k * k).reduce((a, b) => a + b, 0);
            if (out.result !== expected) throw new Error(`wrong answer ${out.result}, expected ${expected}`);
            runs.push(out.stats.jobWallMs);
            const jobs = JSON.parse((await runCli(['jobs', '--json', '--coordinator', coordinator.address], env)).stdout);
            const job = jobs.find((j) => j.jobId === out.jobId);
            counted = `${job.backups} run, ${job.backupsWon} won`;
          }
          const key = `${third}, ${backups ? 'backups' : 'no backups'}`;
          walls[key] = median(runs);
          report.add(workload, `picompute, ${key}`, walls[key], 'ms', { min: Math.min(...runs), backups: counted });
        }
      } finally {
        await Promise.all([stop(coordinator, 'SIGKILL'), stop(agent, 'SIGKILL')]);
      }
    }
    const base = walls['unharmed, backups'];
    const ratios = Object.entries(walls).map(([k, v]) => `${k} ${(v / base).toFixed(2)}×`);
    report.note(`${workload}: wall time vs unharmed with backups: ${ratios.join(', ')}`);
    console.log(`backups: ${ratios.join(', ')}`);
  } finally {
    await Promise.all(agents.map((a) => stop(a, 'SIGKILL')));
    await new Promise((r) => setTimeout(r, 300));
    for (const g of [fastGroup, slowGroup]) {
      try {
        rmdirSync(g);
      } catch {
        // A process still leaving: the empty group goes at reboot.
      }
    }
  }
}

/**
 * Mixed speeds (root, cgroups): a 2-core agent and a 1-core agent held to
 * 25 % of a core by a cgroup CPU quota (one core 4× slower: a Pi 4 beside a
 * Pi 5, in the extreme; one thread, since threads sharing a quota would each
 * be slower than the single-thread probe measures), both in groups with a
 * high CPU weight so the machine's other load does not decide the comparison. The W2-shaped job (64 tasks) runs
 * with each agent's measured speed weighing placement, then with the speed
 * probe off (placement by free slots only); the figure is the job's wall
 * time. The tests (test/placement-speed.test.ts) check where tasks go; how
 * much time that saves is this figure.
 */
import { rmdirSync } from 'node:fs';
import { cgroupProblem, cpuGroup, ENTER } from '../lib/cgroups.mjs';
import { daemon, here, keyEnv, median, runCli, stop } from '../lib/harness.mjs';

/** Starts `picompute <args>` inside cgroup `dir` (or none) and resolves once it logs its address. */
const daemonIn = (dir, args, env) => daemon(args, env, [], dir ? [...ENTER, dir] : []);

export async function run({ quick, repeat, report }) {
  const problem = cgroupProblem();
  if (problem) return report.note(`mixed-speed workload skipped: ${problem}`);
  const { env } = keyEnv();
  const groups = [cpuGroup('picompute-bench-fast', { v1Shares: 10240 }), cpuGroup('picompute-bench-slow', { quota: 0.25, v1Shares: 10240 })];
  const piArgs = ['--arg', `tasks=${quick ? 16 : 64}`, '--arg', `points=${quick ? 500_000 : 2_000_000}`];
  try {
    for (const probe of [true, false]) {
      const flags = ['--host', '127.0.0.1', '--port', '0', ...(probe ? [] : ['--no-speed-probe'])];
      const fast = await daemonIn(groups[0], ['agent', ...flags, '--cores', '2'], env);
      await new Promise((r) => setTimeout(r, 1000));
      const slow = await daemonIn(groups[1], ['agent', ...flags, '--cores', '1'], env);
      const coordinator = await daemonIn(
        undefined,
        ['coordinator', '--host', '127.0.0.1', '--port', '0', '--agent', fast.address, '--agent', slow.address],
        env,
      );
      try {
        // Both agents up, and their speeds in a heartbeat.
        await new Promise((r) => setTimeout(r, 2000));
        const nodes = JSON.parse((await runCli(['nodes', '--json', '--coordinator', coordinator.address], env)).stdout);
        const factor = nodes.find((n) => n.address === fast.address)?.speedFactor ?? 0;
        const walls = [];
        let answer;
        for (let i = 0; i < repeat; i++) {
          const r = await runCli(['submit', here('../examples/monte-carlo-pi.ts'), ...piArgs, '--json', '--coordinator', coordinator.address], env);
          if (r.code !== 0) throw new Error(`submit failed: ${r.stderr}`);
          const out = JSON.parse(r.stdout);
          walls.push(out.stats.jobWallMs);
          answer = out.result;
        }
        const system = probe ? `picompute, speed-weighted (fast node ${factor.toFixed(1)}×)` : 'picompute, speed probe off';
        report.add('mixed speed: 2 cores + 1 core at 25%', system, Math.min(...walls), 'ms', { answer, median: median(walls) });
      } finally {
        await Promise.all([stop(coordinator, 'SIGKILL'), stop(fast, 'SIGKILL'), stop(slow, 'SIGKILL')]);
      }
    }
  } finally {
    await new Promise((r) => setTimeout(r, 300));
    for (const g of groups) {
      try {
        rmdirSync(g);
      } catch {
        // A process still leaving: the empty group goes at reboot.
      }
    }
  }
}

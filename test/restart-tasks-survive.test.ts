/**
 * Tasks outlive a coordinator on SQLite too: SIGKILL it while its agent runs
 * tasks of 3–4 s and start it again on the same state dir only once the
 * first tasks have finished with nobody to tell. The agent ran them on and
 * held their results; the restarted coordinator adopts those and the tasks
 * still running: the job completes exactly and every task ran once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, startDaemon, stateDir } from './support/cli.js';
import type { Daemon } from './support/cli.js';
import { firstStarts, markerDir, runMs, runsPerTask, submitMarkedRuns } from './support/marked-runs.js';
import { until } from './support/until.js';

const N = 6;

describe('tasks running when the coordinator restarts', () => {
  let agent: Daemon;
  beforeAll(async () => {
    // Three cores: three tasks run at the kill, three wait behind them on the agent.
    agent = await startDaemon(['agent', '--host', '127.0.0.1', '--port', '0', '--cores', '3']);
  });
  afterAll(async () => {
    await agent?.stop('SIGKILL');
  });

  it('SIGKILL and restart mid-job: the agent hands over finished and running tasks, and each task runs once', async () => {
    const state = stateDir();
    const coordinator = () =>
      startDaemon(['coordinator', '--host', '127.0.0.1', '--port', '0', '--no-dashboard', '--state-dir', state, '--agent', agent.address]);
    let c = await coordinator();
    const dir = markerDir();
    try {
      await c.waitFor(/agent \S+ up at/);
      const r = await runCli([...submitMarkedRuns({ n: N, ms: 3000, dir }), '--coordinator', c.address]);
      expect(r.code, r.stderr).toBe(0);
      const id = JSON.parse(r.stdout).jobId as string;
      await until('three tasks started', async () => runsPerTask(dir, N).filter((n) => n > 0).length >= 3 || undefined);
      const killedAt = Date.now();
      await c.stop('SIGKILL');
      // The last three start only once the first three are done: their results wait on the agent.
      await until('every task started', async () => runsPerTask(dir, N).every((n) => n > 0) || undefined, 30_000);
      c = await coordinator();
      const adopted = await c.waitFor(/agent \S+ holds \d+ task\(s\) from an earlier coordinator: [^\n]*/, 15_000);
      const [, held, running, finished] = adopted.match(/holds (\d+) task\(s\) from an earlier coordinator: adopted (\d+) running and (\d+) finished$/) ?? [];
      // Every task it held is adopted; how many had finished depends on how fast the restart was (and a loaded machine's
      // slow look at the markers may let a first task end before the kill).
      expect(Number(running) + Number(finished), adopted).toBe(Number(held));
      expect(Number(finished), adopted).toBeGreaterThan(0);
      const cli = (args: string[]) => runCli([...args, '--coordinator', c.address]);
      expect(JSON.parse((await cli(['result', id, '--json'])).stdout)).toEqual(Array.from({ length: N }, (_, i) => i * i));
      // A task that finished as the coordinator died (its 3–4 s over by the kill: a loaded machine's slow look at the
      // markers) may have had its result on its way, received but not yet stored (results are stored once per turn): it
      // runs again, as anything not committed does. CI saw it once. Every task still running at the kill ran once.
      const starts = firstStarts(dir, N);
      const doneAtKill = (i: number) => killedAt - starts[i]! >= runMs(i, 3000) - 250;
      const runs = runsPerTask(dir, N);
      expect(runs.map((n, i) => (doneAtKill(i) ? Math.min(n, 1) : n))).toEqual(new Array(N).fill(1));
      const tasks = JSON.parse((await cli(['tasks', id, '--json'])).stdout) as { index: number; state: string; attempt: number }[];
      expect(tasks.map((t) => [t.index, t.state, doneAtKill(t.index) ? 1 : t.attempt])).toEqual(Array.from({ length: N }, (_, i) => [i, 'COMPLETED', 1]));
    } finally {
      await c.stop('SIGKILL');
    }
  }, 90_000);

  it('a job cancelled while its agent was cut off is stopped there when the agent hands its tasks over', async () => {
    const c = await startDaemon(['coordinator', '--host', '127.0.0.1', '--port', '0', '--no-dashboard', '--agent', agent.address]);
    const cli = (args: string[]) => runCli([...args, '--coordinator', c.address]);
    const dir = markerDir();
    const busy = async () =>
      (JSON.parse((await cli(['nodes', '--json'])).stdout) as { lastHeartbeat?: { busyThreads: number } }[])[0]?.lastHeartbeat?.busyThreads;
    try {
      await c.waitFor(/agent \S+ up at/);
      const r = await cli(submitMarkedRuns({ n: 3, ms: 60_000, dir }));
      const id = JSON.parse(r.stdout).jobId as string;
      await until('three tasks started', async () => runsPerTask(dir, 3).every((n) => n > 0) || undefined);
      // Cut off (stopped): the coordinator counts the node down and its tasks waiting, and the job is cancelled meanwhile.
      agent.proc.kill('SIGSTOP');
      await c.waitFor(/agent \S+ at \S+ down \(no heartbeat/, 15_000);
      expect((await cli(['cancel', id])).code).toBe(0);
      agent.proc.kill('SIGCONT');
      const told = await c.waitFor(/agent \S+ holds \d+ task\(s\) from an earlier coordinator: [^\n]*/, 15_000);
      expect(told).toMatch(new RegExp(`holds 3 task\\(s\\)[^\\n]*job\\(s\\) ${id} cancelled there`));
      // Its three 60 s tasks stop at once, not a minute later.
      await until('the agent idle again', async () => ((await busy()) === 0 ? true : undefined), 20_000);
      expect(runsPerTask(dir, 3)).toEqual([1, 1, 1]);
    } finally {
      agent.proc.kill('SIGCONT');
      await c.stop('SIGKILL');
    }
  }, 90_000);
});

describe('a coordinator started afresh, job ids given out again', () => {
  it("tasks an agent still runs for the old job 1 are stopped, never taken for the new job 1's", async () => {
    const first = await startDaemon(['coordinator', '--host', '127.0.0.1', '--port', '0', '--no-dashboard']);
    const port = first.address.split(':').pop()!;
    // Registers itself (every 2 s while nobody serves it), so it reaches whichever coordinator listens there.
    const holder = await startDaemon(['agent', '--host', '127.0.0.1', '--port', '0', '--cores', '3', '--coordinator', first.address]);
    const other = await startDaemon(['agent', '--host', '127.0.0.1', '--port', '0', '--cores', '1']);
    const [oldRuns, newRuns] = [markerDir(), markerDir()];
    let second: Daemon | undefined;
    try {
      await first.waitFor(/agent \S+ up at/);
      const old = await runCli([...submitMarkedRuns({ n: 3, ms: 60_000, dir: oldRuns }), '--coordinator', first.address]);
      expect(JSON.parse(old.stdout).jobId).toBe('1');
      await until('the old job running', async () => runsPerTask(oldRuns, 3).every((n) => n > 0) || undefined);
      // Held still until the new job 1 exists, so the agent reports the old one's tasks to a coordinator that has a job 1.
      holder.proc.kill('SIGSTOP');
      await first.stop('SIGKILL');
      // A new, empty state on the same address: its first job is job 1 again, and waits while the agent holding the old one comes back.
      second = await startDaemon(['coordinator', '--host', '127.0.0.1', '--port', port, '--no-dashboard', '--agent', other.address]);
      await second.waitFor(/agent \S+ up at/);
      const cli = (args: string[]) => runCli([...args, '--coordinator', second!.address]);
      const fresh = await cli(submitMarkedRuns({ n: 3, ms: 1500, plus: 1000, dir: newRuns }));
      expect(JSON.parse(fresh.stdout).jobId).toBe('1');
      holder.proc.kill('SIGCONT');
      const told = await second.waitFor(/agent \S+ holds \d+ task\(s\) from an earlier coordinator: [^\n]*/, 15_000);
      expect(told).toMatch(/holds 3 task\(s\) from an earlier coordinator: adopted 0 running and 0 finished; job\(s\) 1 cancelled there/);
      expect(JSON.parse((await cli(['result', '1', '--json'])).stdout)).toEqual([1000, 1001, 1004]);
      expect(runsPerTask(newRuns, 3)).toEqual([1, 1, 1]);
      // The old job's 60 s tasks stopped.
      const holderBusy = async () => {
        const nodes = JSON.parse((await cli(['nodes', '--json'])).stdout) as { address: string; lastHeartbeat?: { busyThreads: number } }[];
        return nodes.find((n) => n.address !== other.address)?.lastHeartbeat?.busyThreads;
      };
      await until('the agent that held the old job idle', async () => ((await holderBusy()) === 0 ? true : undefined), 20_000);
    } finally {
      holder.proc.kill('SIGCONT');
      await Promise.all([first.stop('SIGKILL'), second?.stop('SIGKILL'), holder.stop('SIGKILL'), other.stop('SIGKILL')]);
    }
  }, 90_000);
});

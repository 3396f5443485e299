/**
 * Tasks outlive their coordinator: the leader is SIGKILLed while its agent
 * runs tasks of 3–4 s; the agent runs them on, holds the results of those
 * that finish meanwhile, and tells the standby, once it leads, which tasks
 * it holds. The standby adopts them: the job completes exactly and every
 * task ran once (one marker file per run, attempt 1 in `tasks`).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, startDaemon, stateDir } from './support/cli.js';
import type { Daemon } from './support/cli.js';
import { markerDir, runsPerTask, submitMarkedRuns } from './support/marked-runs.js';
import { postgresCoordinatorArgs, postgresProblem, startPostgres } from './support/postgres.js';
import type { TestPostgres } from './support/postgres.js';
import { cannotRun } from './support/requirements.js';
import { until } from './support/until.js';

const problem = postgresProblem();
const N = 6;

if (problem) cannotRun('tasks running at a takeover', problem);
else
  describe('tasks running at a takeover', () => {
    let pg: TestPostgres;
    let agent: Daemon;
    beforeAll(async () => {
      pg = await startPostgres();
      // Three cores: three tasks run at the kill, three wait behind them on the agent.
      agent = await startDaemon(['agent', '--host', '127.0.0.1', '--port', '0', '--cores', '3']);
    });
    afterAll(async () => {
      await agent?.stop('SIGKILL');
      pg?.stop();
    });
    const coordinator = (db: string) => startDaemon(postgresCoordinatorArgs(pg, db, { stateDir: stateDir(), lease: '2s', agents: [agent.address] }));

    it('SIGKILL the leader mid-task: the standby adopts the tasks the agent holds, and each task runs once', async () => {
      const db = pg.database();
      const leader = await coordinator(db);
      await leader.waitFor(/agent \S+ up at/);
      const standby = await coordinator(db);
      await standby.waitFor(/standby listening on/);
      const both = `${leader.address},${standby.address}`;
      const cli = (args: string[]) => runCli([...args, '--coordinator', both]);
      const dir = markerDir();
      try {
        const r = await cli(submitMarkedRuns({ n: N, ms: 3000, dir }));
        expect(r.code, r.stderr).toBe(0);
        const id = JSON.parse(r.stdout).jobId as string;
        await until('three tasks started', async () => runsPerTask(dir, N).filter((n) => n > 0).length >= 3 || undefined);
        await leader.stop('SIGKILL');
        await standby.waitFor(/leading \(epoch 2\)/, 30_000);
        const adopted = await standby.waitFor(/agent \S+ holds \d+ task\(s\) from an earlier coordinator: [^\n]*/, 15_000);
        console.log(`the new leader: ${adopted}`);
        const [, held, running, finished] = adopted.match(/holds (\d+) task\(s\) from an earlier coordinator: adopted (\d+) running and (\d+) finished$/) ?? [];
        // Every task it held is adopted (a loaded machine's slow look at the markers may let a first task end before the kill).
        expect(Number(running) + Number(finished), adopted).toBe(Number(held));
        expect(Number(held), adopted).toBeGreaterThanOrEqual(3);
        const ended = await until(
          'the job ended',
          async () => {
            const jobs = JSON.parse((await cli(['jobs', '--json'])).stdout) as { jobId: string; state: string; endedAtMs: number }[];
            return jobs.find((j) => j.jobId === id && j.endedAtMs > 0);
          },
          60_000,
        );
        expect(ended.state).toBe('COMPLETED');
        expect(JSON.parse((await cli(['result', id, '--json'])).stdout)).toEqual(Array.from({ length: N }, (_, i) => i * i));
        expect(runsPerTask(dir, N)).toEqual(new Array(N).fill(1));
        const tasks = JSON.parse((await cli(['tasks', id, '--json'])).stdout) as { index: number; state: string; attempt: number }[];
        expect(tasks.map((t) => [t.index, t.state, t.attempt])).toEqual(Array.from({ length: N }, (_, i) => [i, 'COMPLETED', 1]));
        expect(agent.output()).toMatch(/task\(s\) run on, their results held \(up to 64 MiB\) for the next coordinator/);
      } finally {
        await Promise.all([leader.stop('SIGKILL'), standby.stop('SIGKILL')]);
      }
    }, 120_000);
  });

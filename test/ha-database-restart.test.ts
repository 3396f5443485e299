/**
 * PostgreSQL restarted or gone under a running coordinator: the coordinator
 * keeps running, reconnects, and nothing is lost (the changes of the outage
 * are kept in memory and sent once the database is back); while it is gone,
 * submits are refused saying why.
 */
import { describe, expect, it } from 'vitest';
import { fixture, runCli, startDaemon } from './support/cli.js';
import { postgresCoordinatorArgs, postgresProblem, usePostgresAndAgent } from './support/postgres.js';
import { cannotRun } from './support/requirements.js';
import { until } from './support/until.js';

const problem = postgresProblem();
const sumSquares = (n: number) => Array.from({ length: n }, (_, i) => i * i).reduce((a, b) => a + b, 0);

if (problem) cannotRun('a coordinator over a PostgreSQL that restarts', problem);
else
  describe('PostgreSQL restarted under a running coordinator', () => {
    const setup = usePostgresAndAgent();

    const start = (db: string) => startDaemon(postgresCoordinatorArgs(setup.pg, db, { lease: '10s', agents: [setup.agent.address] }));

    it('the coordinator reconnects and the running job completes with every task stored', async () => {
      const db = setup.pg.database();
      const coordinator = await start(db);
      const cli = (args: string[]) => runCli([...args, '--coordinator', coordinator.address]);
      try {
        await coordinator.waitFor(/agent \S+ up at/);
        const id = JSON.parse((await cli(['submit', fixture('counted.ts'), '--no-wait', '--json', '--arg', 'n=16', '--arg', 'ms=250'])).stdout).jobId;
        await until('some tasks done', async () => {
          const q = JSON.parse((await cli(['queue', '--json'])).stdout);
          return q.jobs[0]?.tasksDone > 1 || undefined;
        });
        setup.pg.restart();
        await coordinator.waitFor(/answers again; every change kept meanwhile is stored/, 30_000);
        await until('the job completed', async () => {
          const jobs = JSON.parse((await cli(['jobs', '--json'])).stdout);
          return jobs[0]?.state === 'COMPLETED' || undefined;
        });
        expect((await cli(['result', id])).stdout.trim()).toBe(String(sumSquares(16)));
        // In the database itself, not only in the coordinator's copy: every log line and the final state.
        await until('the final state stored', async () => setup.pg.sql(`SELECT state FROM pc_jobs WHERE id = ${id}`, db).trim() === 'COMPLETED' || undefined);
        expect(setup.pg.sql(`SELECT count(DISTINCT task) FROM pc_logs WHERE job_id = ${id}`, db).trim()).toBe('16');
        expect(coordinator.proc.exitCode).toBe(null);
      } finally {
        await coordinator.stop('SIGKILL');
      }
    }, 90_000);

    it('while the database is gone, a submit is refused saying why; the running job completes and is stored once it is back', async () => {
      const db = setup.pg.database();
      const coordinator = await start(db);
      const cli = (args: string[]) => runCli([...args, '--coordinator', coordinator.address]);
      try {
        await coordinator.waitFor(/agent \S+ up at/);
        const id = JSON.parse((await cli(['submit', fixture('counted.ts'), '--no-wait', '--json', '--arg', 'n=12', '--arg', 'ms=300'])).stdout).jobId;
        setup.pg.pause();
        try {
          await coordinator.waitFor(/cannot reach the state database \S+ \(.*\): new jobs are refused, running jobs carry on/, 20_000);
          const refused = await cli(['submit', fixture('counted.ts'), '--arg', 'n=2']);
          expect(refused.code).not.toBe(0);
          expect(refused.stderr).toMatch(/the state database \S+ has not answered for \d+ s \(.*\): new jobs are refused until it is back/);
          // The job runs on meanwhile: the coordinator still has it.
          await until('the job completed', async () => {
            const jobs = JSON.parse((await cli(['jobs', '--json'])).stdout);
            return jobs[0]?.state === 'COMPLETED' || undefined;
          });
        } finally {
          setup.pg.resume();
        }
        await coordinator.waitFor(/answers again; every change kept meanwhile is stored/, 30_000);
        await until('the final state stored', async () => setup.pg.sql(`SELECT state FROM pc_jobs WHERE id = ${id}`, db).trim() === 'COMPLETED' || undefined);
        expect(setup.pg.sql(`SELECT count(DISTINCT task) FROM pc_logs WHERE job_id = ${id}`, db).trim()).toBe('12');
        expect((await cli(['result', id])).stdout.trim()).toBe(String(sumSquares(12)));
        const again = await cli(['submit', fixture('counted.ts'), '--arg', 'n=2', '--arg', 'ms=1']);
        expect(again.code, again.stderr).toBe(0);
      } finally {
        await coordinator.stop('SIGKILL');
      }
    }, 90_000);

    it('a standby outlives the restart too, and still takes over', async () => {
      const db = setup.pg.database();
      const leader = await start(db);
      const standby = await start(db);
      try {
        await standby.waitFor(/standby listening on/);
        setup.pg.restart();
        await standby.waitFor(/standing by: lost the state database/, 20_000);
        await leader.stop('SIGKILL');
        await standby.waitFor(/leading \(epoch 2\)/, 40_000);
        expect(standby.proc.exitCode).toBe(null);
      } finally {
        await Promise.all([leader.stop('SIGKILL'), standby.stop('SIGKILL')]);
      }
    }, 90_000);
  });

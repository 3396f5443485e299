/**
 * PostgreSQL restarted under a running coordinator: the coordinator keeps
 * running, reconnects, and nothing is lost (the changes of the outage are
 * kept in memory and sent once the database is back).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture, runCli, startDaemon } from './support/cli.js';
import type { Daemon } from './support/cli.js';
import { postgresProblem, startPostgres } from './support/postgres.js';
import type { TestPostgres } from './support/postgres.js';
import { cannotRun } from './support/requirements.js';
import { until } from './support/until.js';

const problem = postgresProblem();
const sumSquares = (n: number) => Array.from({ length: n }, (_, i) => i * i).reduce((a, b) => a + b, 0);

if (problem) cannotRun('a coordinator over a PostgreSQL that restarts', problem);
else
  describe('PostgreSQL restarted under a running coordinator', () => {
    let pg: TestPostgres;
    let agent: Daemon;
    beforeAll(async () => {
      pg = await startPostgres();
      agent = await startDaemon(['agent', '--host', '127.0.0.1', '--port', '0', '--cores', '2']);
    });
    afterAll(async () => {
      await agent?.stop('SIGKILL');
      pg?.stop();
    });

    it('the coordinator reconnects and the running job completes with every task stored', async () => {
      const db = pg.database();
      const coordinator = await startDaemon([
        'coordinator',
        '--host',
        '127.0.0.1',
        '--port',
        '0',
        '--no-dashboard',
        '--state',
        pg.url(db),
        '--state-password-file',
        pg.passwordFile(),
        '--lease',
        '10s',
        '--agent',
        agent.address,
      ]);
      const cli = (args: string[]) => runCli([...args, '--coordinator', coordinator.address]);
      try {
        await coordinator.waitFor(/agent \S+ up at/);
        const id = JSON.parse((await cli(['submit', fixture('counted.ts'), '--no-wait', '--json', '--arg', 'n=16', '--arg', 'ms=250'])).stdout).jobId;
        await until('some tasks done', async () => {
          const q = JSON.parse((await cli(['queue', '--json'])).stdout);
          return q.jobs[0]?.tasksDone > 1 || undefined;
        });
        pg.restart();
        await coordinator.waitFor(/reachable again; every change is stored/, 30_000);
        await until('the job completed', async () => {
          const jobs = JSON.parse((await cli(['jobs', '--json'])).stdout);
          return jobs[0]?.state === 'COMPLETED' || undefined;
        });
        expect((await cli(['result', id])).stdout.trim()).toBe(String(sumSquares(16)));
        // In the database itself, not only in the coordinator's copy: every log line and the final state.
        await until('the final state stored', async () => pg.sql(`SELECT state FROM pc_jobs WHERE id = ${id}`, db).trim() === 'COMPLETED' || undefined);
        expect(pg.sql(`SELECT count(DISTINCT task) FROM pc_logs WHERE job_id = ${id}`, db).trim()).toBe('16');
        expect(coordinator.proc.exitCode).toBe(null);
      } finally {
        await coordinator.stop('SIGKILL');
      }
    }, 90_000);
  });

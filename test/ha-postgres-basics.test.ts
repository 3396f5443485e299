/**
 * The coordinator's state in PostgreSQL: a job runs and its result, logs and
 * history survive the coordinator (SIGKILL, start again on the same
 * database); bad input (URL, password, schema, rights) stops it with a
 * message naming what to do.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { connect, loadSecurity } from '@picompute/sdk/client';
import { unpackFrames } from '@picompute/sdk/framing';
import { fixture, KEY_FILE, runCli, startDaemon, stateDir } from './support/cli.js';
import type { Daemon } from './support/cli.js';
import { PG_PASSWORD, PG_USER, postgresCoordinatorArgs, postgresProblem, usePostgresAndAgent } from './support/postgres.js';
import { cannotRun } from './support/requirements.js';
import { until } from './support/until.js';

const problem = postgresProblem();
const sumSquares = (n: number) => Array.from({ length: n }, (_, i) => i * i).reduce((a, b) => a + b, 0);

if (problem) cannotRun('coordinator state in PostgreSQL', problem);
else
  describe('a coordinator over PostgreSQL', () => {
    const setup = usePostgresAndAgent();
    const coordinatorArgs = (db: string, extra: string[] = []) => postgresCoordinatorArgs(setup.pg, db, { agents: [setup.agent.address], extra });

    it('runs a job, and a coordinator started again on the same database has its result, logs and history', async () => {
      const db = setup.pg.database();
      let coordinator = await startDaemon(coordinatorArgs(db));
      try {
        await coordinator.waitFor(/agent \S+ up at/);
        const cli = (args: string[]) => runCli([...args, '--coordinator', coordinator.address]);
        const r = await cli(['submit', fixture('counted.ts'), '--arg', 'n=12', '--json']);
        expect(r.code, r.stderr).toBe(0);
        const id = JSON.parse(r.stdout).jobId as string;
        expect((await cli(['result', id])).stdout.trim()).toBe(String(sumSquares(12)));
        // Deletes reach the database too: a completed job's inputs are reclaimed there as in SQLite.
        await until(
          'the inputs reclaimed in PostgreSQL',
          async () => setup.pg.sql(`SELECT count(*) FROM pc_tasks WHERE job_id = ${id}`, db).trim() === '0' || undefined,
        );
        await coordinator.stop('SIGKILL');
        // Its working copy is gone with its state dir: everything must come from PostgreSQL.
        coordinator = await startDaemon(coordinatorArgs(db, ['--state-dir', stateDir()]));
        expect(await coordinator.waitFor(/leading \(epoch (\d+)\)/)).toBe('2');
        expect((await cli(['result', id])).stdout.trim()).toBe(String(sumSquares(12)));
        const logs = JSON.parse((await cli(['logs', id, '--json'])).stdout) as { task: number }[];
        expect(logs.map((l) => l.task).sort((a, b) => a - b)).toEqual(Array.from({ length: 12 }, (_, t) => t));
        const jobs = JSON.parse((await cli(['jobs', '--json'])).stdout) as { jobId: string; state: string }[];
        expect(jobs.map((j) => [j.jobId, j.state])).toEqual([[id, 'COMPLETED']]);
        // The per-task table stored when the job ended (a table the coordinator makes after start-up) came along too.
        const tasks = JSON.parse((await cli(['tasks', id, '--json'])).stdout) as { index: number; state: string; node: string }[];
        expect(tasks).toHaveLength(12);
        expect(tasks.every((t) => t.state === 'COMPLETED' && t.node)).toBe(true);
      } finally {
        await coordinator.stop('SIGKILL');
      }
    }, 60_000);

    it('a submit is acknowledged only once PostgreSQL holds the job and all its inputs', async () => {
      const db = setup.pg.database();
      const coordinator = await startDaemon(coordinatorArgs(db));
      const client = await connect({ coordinator: coordinator.address, security: await loadSecurity({ keyFile: KEY_FILE }) });
      try {
        const job = await client.submit(fixture('counted.ts'), { args: { n: '300', ms: '1000' } });
        // Stopped the moment the acknowledgement is in: whatever the database holds now, it held before the client was told.
        coordinator.proc.kill('SIGSTOP');
        // Inputs are stored in parts of up to 256 (schema 3): count the frames of each part.
        const total = setup.pg.sql(`SELECT tasks_total FROM pc_jobs WHERE id = ${job.id}`, db).trim();
        const parts = setup.pg.sql(`SELECT encode(frames, 'hex') FROM pc_input_parts WHERE job_id = ${job.id} ORDER BY first`, db).split('\n');
        const stored = parts.filter((hex) => hex.trim()).reduce((n, hex) => n + unpackFrames(Buffer.from(hex.trim(), 'hex')).length, 0);
        expect(`${total} ${stored}`).toBe('300 300');
      } finally {
        coordinator.proc.kill('SIGCONT');
        client.close();
        await coordinator.stop('SIGKILL');
      }
    });

    it('takes big inputs(args) values inside the job, not as chunks on its own disk, where a standby taking over would lack them', async () => {
      const coordinator = await startDaemon(coordinatorArgs(setup.pg.database()));
      const client = await connect({ coordinator: coordinator.address, security: await loadSecurity({ keyFile: KEY_FILE }) });
      try {
        const job = await client.submit(fixture('big-values.ts'), { args: { n: '3', kib: '100' } });
        // Over SQLite these three go up as chunks after the submit (input-values-chunks.test.ts); here nothing does.
        expect(job.upload).toBeUndefined();
        expect(await job.result()).toEqual([0, 'value 0: 102400', 1, 'value 1: 102400', 2, 'value 2: 102400']);
      } finally {
        client.close();
        await coordinator.stop('SIGKILL');
      }
    });

    it("never gives a purged job's id again, even under the next leader", async () => {
      const db = setup.pg.database();
      const cliAt = (c: Daemon) => (args: string[]) => runCli([...args, '--coordinator', c.address]);
      let coordinator = await startDaemon(coordinatorArgs(db, ['--lease', '1s']));
      try {
        const first = JSON.parse((await cliAt(coordinator)(['submit', fixture('counted.ts'), '--json', '--arg', 'n=2', '--arg', 'ms=1'])).stdout).jobId;
        await coordinator.stop('SIGTERM');
        await new Promise((r) => setTimeout(r, 1100));
        // This one purges the job at its start (--keep 1s): the database then holds no job at all.
        coordinator = await startDaemon(coordinatorArgs(db, ['--lease', '1s', '--keep', '1s']));
        await coordinator.waitFor(/purged 1 job/);
        await until('the purge stored', async () => setup.pg.sql('SELECT count(*) FROM pc_jobs', db).trim() === '0' || undefined);
        await coordinator.stop('SIGTERM');
        coordinator = await startDaemon(coordinatorArgs(db, ['--lease', '1s']));
        const next = JSON.parse((await cliAt(coordinator)(['submit', fixture('counted.ts'), '--json', '--arg', 'n=2', '--arg', 'ms=1'])).stdout).jobId;
        expect(Number(next)).toBe(Number(first) + 1);
      } finally {
        await coordinator.stop('SIGKILL');
      }
    }, 60_000);

    const refused = async (args: string[]) => {
      const r = await runCli(args, { timeoutMs: 20_000 });
      expect(r.code).not.toBe(0);
      return r.stderr;
    };

    it('refuses a URL that is not PostgreSQL, or that carries a password', async () => {
      const db = setup.pg.database();
      const args = coordinatorArgs(db);
      const at = args.indexOf('--state') + 1;
      args[at] = `postgres://${PG_USER}:pw@127.0.0.1:${setup.pg.port}/${db}`;
      expect(await refused(args)).toMatch(/carries a password: .*put the password in a file \(--state-password-file\) or in PGPASSFILE/);
      args[at] = '/var/lib/picompute';
      expect(await refused(args)).toMatch(
        /--state \/var\/lib\/picompute is not a URL; write it as postgres:\/\/user@host:5432\/database \(a directory goes in --state-dir\)/,
      );
      args[at] = `mysql://${PG_USER}@127.0.0.1/${db}`;
      expect(await refused(args)).toMatch(/is not a postgres:\/\/ URL/);
      args[at] = `postgres://${PG_USER}@127.0.0.1:1/${db}`;
      expect(await refused(args)).toMatch(/cannot reach PostgreSQL at picompute@127\.0\.0\.1:1\/\S+ \(connection refused\)/);
      args[at] = `postgres://${PG_USER}@127.0.0.1:${setup.pg.port}/no_such_db`;
      expect(await refused(args)).toMatch(/database "no_such_db" does not exist; create it/);
    });

    it('takes the password from PGPASSFILE, as libpq does', async () => {
      const db = setup.pg.database();
      const pgpass = join(mkdtempSync(join(tmpdir(), 'picompute-pgpass-')), 'pgpass');
      writeFileSync(pgpass, `127.0.0.1:${setup.pg.port}:${db}:${PG_USER}:${PG_PASSWORD}\n`, { mode: 0o600 });
      const args = coordinatorArgs(db);
      args.splice(args.indexOf('--state-password-file'), 2);
      const coordinator = await startDaemon(args, { env: { PGPASSFILE: pgpass } });
      try {
        expect(await coordinator.waitFor(/leading \(epoch (\d+)\)/)).toBe('1');
      } finally {
        await coordinator.stop('SIGKILL');
      }
    });

    it('refuses a wrong password, naming the password file', async () => {
      const args = coordinatorArgs(setup.pg.database());
      args[args.indexOf('--state-password-file') + 1] = setup.pg.passwordFile('nobody');
      expect(await refused(args)).toMatch(/refused the password for picompute; check the password file \(--state-password-file, or PGPASSFILE\)/);
    });

    it('refuses a database written by a newer picompute, and leaves it as it is', async () => {
      const db = setup.pg.database();
      const first = await startDaemon(coordinatorArgs(db));
      await first.stop('SIGTERM');
      setup.pg.sql("UPDATE picompute_meta SET value = '99' WHERE key = 'schema_version'", db);
      expect(await refused(coordinatorArgs(db))).toMatch(/written by a newer picompute \(schema 99; this one knows \d+\); upgrade picompute/);
      expect(setup.pg.sql("SELECT value FROM picompute_meta WHERE key = 'schema_version'", db).trim()).toBe('99');
    });

    it('refuses a user that may only read', async () => {
      const db = setup.pg.database();
      const first = await startDaemon(coordinatorArgs(db));
      await first.stop('SIGTERM');
      setup.pg.sql("CREATE ROLE reader LOGIN PASSWORD 'reader-pw'");
      setup.pg.sql(`GRANT CONNECT ON DATABASE ${db} TO reader`);
      setup.pg.sql('GRANT SELECT ON ALL TABLES IN SCHEMA public TO reader', db);
      const args = coordinatorArgs(db);
      args[args.indexOf('--state') + 1] = setup.pg.url(db, 'reader');
      args[args.indexOf('--state-password-file') + 1] = setup.pg.passwordFile('reader');
      expect(await refused(args)).toMatch(/reader may not write picompute's tables .*needs a user that owns the database or was granted/);
    });
  });

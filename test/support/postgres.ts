/**
 * A real PostgreSQL for the tests (Debian's `postgresql`): a cluster made
 * with initdb under its own temp data folder, on a free loopback port, run
 * as the `postgres` OS user when the tests run as root (PostgreSQL refuses
 * root), stopped by `stop()`. Users sign in with a password over TCP
 * (scram-sha-256); the test's own statements go in over the cluster's
 * private unix socket as the superuser.
 */
import { execFileSync } from 'node:child_process';
import { appendFileSync, chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { startDaemon } from './cli.js';
import type { Daemon } from './cli.js';

export interface TestPostgres {
  port: number;
  /** postgres://USER@ADDRESS:PORT/DB (127.0.0.1 unless started on a test host) */
  url(db: string, user?: string): string;
  /** A password file for `user` (mode 600). */
  passwordFile(user?: string): string;
  /** `--state URL --state-password-file FILE`: a coordinator's flags for state in `db`. */
  stateFlags(db: string): string[];
  /** Runs SQL as the superuser; returns psql's unaligned output. */
  sql(statement: string, db?: string): string;
  /** A new database owned by the test user. */
  database(): string;
  stop(): void;
  restart(): void;
  /** Stops the server, keeping its data, until `resume()`. */
  pause(): void;
  resume(): void;
}

export const PG_USER = 'picompute';
export const PG_PASSWORD = 'pi-secret';

function binDir(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root).sort((a, b) => Number(b) - Number(a));
  for (const v of versions) if (existsSync(join(root, v, 'bin', 'initdb'))) return join(root, v, 'bin');
  return undefined;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** Why PostgreSQL cannot run here, or undefined. */
export function postgresProblem(): string | undefined {
  if (!binDir()) return "PostgreSQL's server is not installed (Debian: apt-get install postgresql)";
  if (userInfo().uid === 0) {
    try {
      execFileSync('id', ['postgres'], { stdio: 'pipe' });
    } catch {
      return 'running as root, but there is no postgres OS user to run PostgreSQL as';
    }
  }
  return undefined;
}

let counter = 0;

/**
 * `on`: run it inside a network-namespace test host (its namespace's name),
 * listening on that host's address, which the subnet may reach with a password.
 */
export async function startPostgres(on: { netns?: string; address?: string; subnet?: string } = {}): Promise<TestPostgres> {
  const bin = binDir()!;
  const listen = on.address ?? '127.0.0.1';
  const asRoot = userInfo().uid === 0;
  const dir = mkdtempSync(join(tmpdir(), 'picompute-pg-'));
  chmodSync(dir, 0o755);
  const data = join(dir, 'data');
  const owner = asRoot ? Number(execFileSync('id', ['-u', 'postgres']).toString()) : userInfo().uid;
  if (asRoot) chownSync(dir, owner, Number(execFileSync('id', ['-g', 'postgres']).toString()));
  const run = (cmd: string, args: string[]) => {
    const argv = asRoot ? ['runuser', '-u', 'postgres', '--', join(bin, cmd), ...args] : [join(bin, cmd), ...args];
    const full = on.netns ? ['ip', 'netns', 'exec', on.netns, ...argv] : argv;
    return execFileSync(full[0]!, full.slice(1), { stdio: 'pipe', cwd: dir });
  };
  // A namespace host has every port to itself.
  const port = on.netns ? 5432 : await freePort();
  run('initdb', ['-D', data, '-U', 'postgres', '--auth-local=trust', '--auth-host=scram-sha-256', '-E', 'UTF8']);
  if (on.subnet) appendFileSync(join(data, 'pg_hba.conf'), `host all all ${on.subnet} scram-sha-256\n`);
  const start = () =>
    run('pg_ctl', [
      '-D',
      data,
      '-l',
      join(dir, 'log'),
      '-w',
      '-t',
      '30',
      '-o',
      `-p ${port} -k ${dir} -c listen_addresses=${listen} -c fsync=off -c max_connections=60 -c shared_buffers=16MB`,
      'start',
    ]);
  start();
  const sql = (statement: string, db = 'postgres') =>
    run('psql', ['-h', dir, '-p', String(port), '-U', 'postgres', '-d', db, '-XAtq', '-v', 'ON_ERROR_STOP=1', '-c', statement]).toString();
  sql(`CREATE ROLE ${PG_USER} LOGIN PASSWORD '${PG_PASSWORD}'`);
  const files = mkdtempSync(join(tmpdir(), 'picompute-pgpass-'));
  const url = (db: string, user = PG_USER) => `postgres://${user}@${listen}:${port}/${db}`;
  const passwordFile = (user = PG_USER) => {
    const file = join(files, `${user}-${counter++}`);
    writeFileSync(file, `${user === PG_USER ? PG_PASSWORD : `${user}-pw`}\n`, { mode: 0o600 });
    return file;
  };
  return {
    port,
    url,
    passwordFile,
    stateFlags: (db) => ['--state', url(db), '--state-password-file', passwordFile()],
    sql,
    database() {
      const name = `pc_test_${process.pid}_${counter++}`;
      sql(`CREATE DATABASE ${name} OWNER ${PG_USER}`);
      return name;
    },
    stop() {
      try {
        run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
      } finally {
        rmSync(dir, { recursive: true, force: true });
        rmSync(files, { recursive: true, force: true });
      }
    },
    restart() {
      run('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']);
      start();
    },
    pause() {
      run('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']);
    },
    resume: start,
  };
}

/**
 * A coordinator's arguments on loopback (any port, no dashboard) with its
 * state in `db` of `pg`: the start every coordinator-over-PostgreSQL test
 * shares, so only what a test varies stands in it.
 */
export function postgresCoordinatorArgs(
  pg: TestPostgres,
  db: string,
  o: { agents?: string[]; lease?: string; stateDir?: string; extra?: string[] } = {},
): string[] {
  return [
    'coordinator',
    '--host',
    '127.0.0.1',
    '--port',
    '0',
    '--no-dashboard',
    ...pg.stateFlags(db),
    ...(o.stateDir === undefined ? [] : ['--state-dir', o.stateDir]),
    ...(o.lease === undefined ? [] : ['--lease', o.lease]),
    ...(o.agents ?? []).flatMap((a) => ['--agent', a]),
    ...(o.extra ?? []),
  ];
}

/**
 * A PostgreSQL and a 2-core agent on loopback, started before a describe
 * block's tests and stopped after them: what most coordinator-over-PostgreSQL
 * tests stand on. Read `pg` and `agent` inside the tests.
 */
export function usePostgresAndAgent(): { readonly pg: TestPostgres; readonly agent: Daemon } {
  const up: { pg?: TestPostgres; agent?: Daemon } = {};
  beforeAll(async () => {
    up.pg = await startPostgres();
    up.agent = await startDaemon(['agent', '--host', '127.0.0.1', '--port', '0', '--cores', '2']);
  });
  afterAll(async () => {
    await up.agent?.stop('SIGKILL');
    up.pg?.stop();
  });
  return {
    get pg() {
      return up.pg!;
    },
    get agent() {
      return up.agent!;
    },
  };
}

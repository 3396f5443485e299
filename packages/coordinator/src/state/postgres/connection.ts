/**
 * Connections to the PostgreSQL state (`stateUrl`), and the one place that
 * turns PostgreSQL's refusals into messages a user can act on. The password
 * never comes from the URL (command lines are visible to every user of the
 * machine): it is read from `statePasswordFile`, else `pg` looks in
 * PGPASSFILE or ~/.pgpass as libpq does.
 */
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { StateError } from '../database.js';

export interface PgTarget {
  url: string;
  passwordFile?: string;
}

/** Whether a --state value names a PostgreSQL database rather than a directory. */
export function isPostgresUrl(state: string): boolean {
  return /^postgres(ql)?:\/\//i.test(state);
}

/** Where the URL points, without any secret, for messages. */
export function describeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.username ? `${decodeURIComponent(u.username)}@` : ''}${u.host}${u.pathname}`;
  } catch {
    return url.replace(/:[^@/]*@/, ':***@');
  }
}

export function checkTarget(target: PgTarget): void {
  let u: URL;
  try {
    u = new URL(target.url);
  } catch {
    throw new StateError(`stateUrl ${describeUrl(target.url)} is not a URL; write it as postgres://user@host:5432/database (a directory goes in stateDir)`);
  }
  if (!isPostgresUrl(target.url))
    throw new StateError(
      `stateUrl ${describeUrl(target.url)} is not a postgres:// URL; PostgreSQL is the only database picompute keeps its state in besides SQLite (stateDir)`,
    );
  if (u.password) {
    throw new StateError(
      'stateUrl carries a password: anyone on this machine can read a command line; put the password in a file (statePasswordFile) or in PGPASSFILE',
    );
  }
  if (!u.pathname || u.pathname === '/')
    throw new StateError(`stateUrl ${describeUrl(target.url)} names no database; write it as postgres://user@host/database`);
}

/** Bigints (ids, counts, epochs) as numbers: every value picompute keeps fits in 2^53. */
const types = {
  getTypeParser(oid: number, format?: string) {
    if (oid === 20) return (v: string) => Number(v);
    return pg.types.getTypeParser(oid, format as 'text');
  },
};

export async function pgConnect(target: PgTarget, what: string): Promise<pg.Client> {
  checkTarget(target);
  let password: string | undefined;
  if (target.passwordFile) {
    try {
      password = readFileSync(target.passwordFile, 'utf8').trim();
    } catch (err) {
      throw new StateError(`cannot read statePasswordFile ${target.passwordFile}: ${(err as Error).message}`);
    }
  }
  const u = new URL(target.url);
  // Fields, not connectionString: pg lets the string's (absent) password override the one given.
  const client = new pg.Client({
    host: decodeURIComponent(u.hostname).replace(/^\[(.*)\]$/, '$1') || 'localhost',
    port: u.port ? Number(u.port) : 5432,
    user: u.username ? decodeURIComponent(u.username) : undefined,
    database: decodeURIComponent(u.pathname.slice(1)),
    password,
    types,
    connectionTimeoutMillis: 5000,
    keepAlive: true,
    keepAliveInitialDelayMillis: 1000,
    application_name: `picompute ${what}`,
  });
  // A connection lost later is reported by the next query; without a listener it would crash the process.
  client.on('error', () => {});
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => {});
    throw pgError(err, target.url);
  }
  return client;
}

/** PostgreSQL's refusal as a StateError naming what to do; other errors unchanged. */
export function pgError(err: unknown, url: string): Error {
  const e = err as Error & { code?: string };
  const where = describeUrl(url);
  const user = (() => {
    try {
      return decodeURIComponent(new URL(url).username) || 'this user';
    } catch {
      return 'this user';
    }
  })();
  switch (e.code) {
    case 'ECONNREFUSED':
      return new StateError(`cannot reach PostgreSQL at ${where} (connection refused): is it running, and are the host and port in the state URL right?`);
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new StateError(`cannot reach PostgreSQL at ${where}: unknown host; check the host in the state URL`);
    case '28P01':
      return new StateError(`PostgreSQL at ${where} refused the password for ${user}; check the password file (statePasswordFile, or PGPASSFILE)`);
    case '28000':
      return new StateError(`PostgreSQL at ${where} does not let ${user} in (${e.message}); add a line for it to pg_hba.conf`);
    case '3D000':
      return new StateError(`PostgreSQL at ${where}: ${e.message}; create it (createdb -O ${user} NAME) or fix the state URL`);
    case '42501':
      return new StateError(
        `PostgreSQL at ${where}: ${user} may not write picompute's tables (${e.message}); the coordinator needs a user that owns the database or was granted CREATE, INSERT, UPDATE and DELETE on it`,
      );
    case '25006':
      return new StateError(`PostgreSQL at ${where} is read-only (${e.message}): a hot standby? point the state URL at the primary`);
  }
  if (e.message === 'SASL: SCRAM-SERVER-FIRST-MESSAGE: client password must be a string' || /password must be a string/.test(e.message ?? '')) {
    return new StateError(`PostgreSQL at ${where} asks ${user} for a password and none was given; put it in a file (statePasswordFile) or in PGPASSFILE`);
  }
  if (/timeout/i.test(e.message ?? '')) return new StateError(`PostgreSQL at ${where} did not answer within 5 s (${e.message})`);
  return e;
}

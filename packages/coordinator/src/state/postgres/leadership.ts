/**
 * Who leads, over PostgreSQL: one row (picompute_leader) holds the leader's
 * lease (an expiry in PostgreSQL's own clock) and a fencing counter, the
 * epoch, that every takeover increments. A standby takes the row only once
 * the lease has run out; the leader renews it every third of the lease.
 * Every write transaction of the leader first reads the epoch under a share
 * lock (so a takeover waits for it to commit, and then loads what it wrote)
 * and aborts if the epoch is not its own: a leader that was stopped (SIGSTOP,
 * a long pause, a partition) and wakes up after a takeover writes nothing,
 * and steps down.
 */
import type pg from 'pg';
import { StateError } from '../database.js';
import { SCHEMA_VERSION } from '../schema.js';
import { pgConnect, pgError } from './connection.js';
import type { PgTarget } from './connection.js';

export class Deposed extends Error {
  override name = 'Deposed';
}

const SETUP_LOCK = 7_700_017;

const META = `
CREATE TABLE IF NOT EXISTS picompute_meta (key text PRIMARY KEY, value text NOT NULL);
CREATE TABLE IF NOT EXISTS picompute_tables (name text PRIMARY KEY, sqlite_sql text NOT NULL);
CREATE TABLE IF NOT EXISTS picompute_leader (
  id int PRIMARY KEY, epoch bigint NOT NULL, holder text NOT NULL, address text NOT NULL, expires_at timestamptz NOT NULL
);
INSERT INTO picompute_leader VALUES (1, 0, '', '', '-infinity') ON CONFLICT DO NOTHING;`;

/**
 * Connects and makes (or checks) picompute's tables, refusing a database
 * written by a newer picompute. Two coordinators starting at once take turns
 * (an advisory lock) rather than race to create the same tables.
 */
export async function openPostgres(target: PgTarget, what: string): Promise<pg.Client> {
  const client = await pgConnect(target, what);
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1)', [SETUP_LOCK]);
    await client.query(META);
    const found = await client.query("SELECT value FROM picompute_meta WHERE key = 'schema_version'");
    const version = found.rowCount ? Number(found.rows[0].value) : 0;
    if (version > SCHEMA_VERSION) {
      throw new StateError(
        `state database ${describe(target)} was written by a newer picompute (schema ${version}; this one knows ${SCHEMA_VERSION}); upgrade picompute, or point the state URL at another database`,
      );
    }
    if (version < SCHEMA_VERSION) {
      await client.query("INSERT INTO picompute_meta VALUES ('schema_version', $1) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value", [
        String(SCHEMA_VERSION),
      ]);
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    await client.end().catch(() => {});
    throw err instanceof StateError ? err : pgError(err, target.url);
  }
  return client;
}

function describe(target: PgTarget): string {
  const u = new URL(target.url);
  return `${u.host}${u.pathname}`;
}

export interface LeaderRow {
  epoch: number;
  holder: string;
  address: string;
  live: boolean;
}

export async function leaderRow(client: pg.Client): Promise<LeaderRow> {
  const r = await client.query('SELECT epoch, holder, address, expires_at > now() AS live FROM picompute_leader WHERE id = 1');
  return r.rows[0] as LeaderRow;
}

/**
 * Waits until this coordinator holds the lease, telling `onLeader` whenever
 * another coordinator is seen leading; returns the epoch it leads in, or
 * undefined if `stopped()` first.
 */
export async function waitToLead(
  client: pg.Client,
  me: { id: string; address: string },
  leaseMs: number,
  onLeader: (row: LeaderRow) => void,
  stopped: () => boolean,
): Promise<number | undefined> {
  // A leader stopped inside a transaction holds the row: wait for PostgreSQL to end its session, a poll at a time.
  await client.query(`SET lock_timeout = ${Math.ceil(leaseMs)}`);
  let seen = '';
  while (!stopped()) {
    const took = await client
      .query(
        "UPDATE picompute_leader SET epoch = epoch + 1, holder = $1, address = $2, expires_at = now() + $3 * interval '1 millisecond' WHERE id = 1 AND expires_at < now() RETURNING epoch",
        [me.id, me.address, leaseMs],
      )
      .catch((err: Error & { code?: string }) => {
        if (err.code === '55P03') return { rowCount: 0, rows: [] };
        throw err;
      });
    if (took.rowCount) return Number(took.rows[0].epoch);
    const row = await leaderRow(client);
    if (row.holder !== seen) {
      seen = row.holder;
      onLeader(row);
    }
    await new Promise((resolve) => setTimeout(resolve, leaseMs / 3));
  }
  return undefined;
}

/** Runs `write` in a transaction that commits only if `epoch` still leads. */
export async function fenced(client: pg.Client, epoch: number, write: () => Promise<void>): Promise<void> {
  try {
    // One round trip for both: this is on every submit's path.
    const results = (await client.query('BEGIN; SELECT epoch, holder, address FROM picompute_leader WHERE id = 1 FOR SHARE')) as unknown as pg.QueryResult[];
    const now = results[1]!.rows[0] as { epoch: number; holder: string; address: string };
    if (Number(now.epoch) !== epoch) {
      throw new Deposed(`coordinator ${now.holder} at ${now.address} took the lead (epoch ${now.epoch}; this one held epoch ${epoch})`);
    }
    await write();
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  }
}

/** Extends the lease; Deposed if another coordinator holds it now. */
export async function renew(client: pg.Client, epoch: number, leaseMs: number): Promise<void> {
  const r = await client.query("UPDATE picompute_leader SET expires_at = now() + $2 * interval '1 millisecond' WHERE id = 1 AND epoch = $1", [epoch, leaseMs]);
  if (r.rowCount === 0) {
    const row = await leaderRow(client);
    throw new Deposed(`coordinator ${row.holder} at ${row.address} took the lead (epoch ${row.epoch}; this one held epoch ${epoch})`);
  }
}

/** Gives the lease up at a clean stop, so a standby takes over at its next poll. */
export async function release(client: pg.Client, epoch: number): Promise<void> {
  await client.query("UPDATE picompute_leader SET expires_at = '-infinity' WHERE id = 1 AND epoch = $1", [epoch]);
}

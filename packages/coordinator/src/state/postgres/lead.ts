/**
 * A coordinator over PostgreSQL, from standing by to leading: waits for the
 * lease, then builds its working copy from the database (every job, finished
 * or not; unfinished tasks run again, stored outputs are kept) and hands back
 * a StateStore over it whose acknowledgements wait for PostgreSQL.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type pg from 'pg';
import { openDatabase } from '../database.js';
import { StateStore } from '../store.js';
import { pgConnect, pgError } from './connection.js';
import type { PgTarget } from './connection.js';
import { dataConnection, PgLeader } from './leader.js';
import { renew, waitToLead } from './leadership.js';
import type { LeaderRow } from './leadership.js';
import { loadCopy, Replica } from './replica.js';

export interface LeadOptions {
  target: PgTarget;
  /** Connection from openPostgres; kept for the lease. */
  client: pg.Client;
  me: { id: string; address: string };
  leaseMs: number;
  /** Where the working copy lives (replaced at every takeover). */
  stateDir: string;
  log: (line: string) => void;
  onLeader: (row: LeaderRow) => void;
  stopped: () => boolean;
  onDeposed: (why: string) => void;
  /** The lease is this coordinator's: it loads the state and rebuilds its jobs before it serves. */
  onTakingOver?: () => void;
}

export async function leadOverPostgres(o: LeadOptions): Promise<{ store: StateStore; leader: PgLeader } | undefined> {
  let client = o.client;
  let epoch: number | undefined;
  let lost = '';
  // A standby outlives a database that restarts or goes away: it says so once, and keeps trying.
  for (;;) {
    try {
      epoch = await waitToLead(client, o.me, o.leaseMs, o.onLeader, o.stopped);
      break;
    } catch (err) {
      const why = pgError(err, o.target.url).message;
      if (why !== lost) o.log(`standing by: lost the state database (${why}); trying again every ${o.leaseMs / 1000} s`);
      lost = why;
      await client.end().catch(() => {});
      await new Promise((resolve) => setTimeout(resolve, o.leaseMs));
      client = await pgConnect(o.target, 'coordinator').catch(() => client);
    }
  }
  if (epoch === undefined) return undefined;
  o.onTakingOver?.();
  const started = performance.now();
  const dataClient = await dataConnection(o.target, o.leaseMs);
  const dir = join(o.stateDir, 'postgres-copy');
  rmSync(dir, { recursive: true, force: true });
  const db = openDatabase(dir, { durable: false, log: o.log });
  let leader: PgLeader | undefined;
  // Loading a large state takes longer than a lease: renewed meanwhile, and just before each stretch that holds the event loop.
  const renewNow = () => renew(client, epoch!, o.leaseMs);
  const renewing = setInterval(() => void renewNow().catch(() => {}), o.leaseMs / 3);
  try {
    const { rows, names } = await loadCopy(dataClient, db, renewNow);
    const replica = new Replica(db);
    replica.adopt(names);
    leader = new PgLeader(o.target, client, dataClient, epoch, replica, o.leaseMs, o.log, o.onDeposed);
    const store = new StateStore(db, true, o.log);
    store.replica = leader;
    // The caller builds its jobs from the copy next, holding the event loop again.
    await renewNow();
    clearInterval(renewing);
    o.log(`leading (epoch ${epoch}): loaded ${rows} row(s) from the state database in ${Math.round(performance.now() - started)} ms`);
    return { store, leader };
  } catch (err) {
    clearInterval(renewing);
    await leader?.close();
    db.close();
    throw pgError(err, o.target.url);
  }
}

/**
 * The lease and its fencing, against a real PostgreSQL, without daemons: a
 * standby takes the lead only once the lease has run out, even from a
 * leader stopped inside a write transaction (its session is ended after a
 * lease), and a write of the old epoch is refused.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dataConnection } from '../packages/coordinator/src/state/postgres/leader.js';
import { Deposed, fenced, leaderRow, openPostgres, renew, waitToLead } from '../packages/coordinator/src/state/postgres/leadership.js';
import { postgresProblem, startPostgres } from './support/postgres.js';
import type { TestPostgres } from './support/postgres.js';
import { cannotRun } from './support/requirements.js';

const problem = postgresProblem();
const LEASE_MS = 1000;

if (problem) cannotRun('the lease and its fencing in PostgreSQL', problem);
else
  describe('the lease and its fencing', () => {
    let pg: TestPostgres;
    beforeAll(async () => {
      pg = await startPostgres();
    });
    afterAll(() => pg?.stop());

    it('a leader stopped inside a write transaction cannot keep the lead, and its epoch can write no more', async () => {
      const target = { url: pg.url(pg.database()), passwordFile: pg.passwordFile() };
      const a = await openPostgres(target, 'test a');
      const b = await openPostgres(target, 'test b');
      const seen: string[] = [];
      try {
        expect(
          await waitToLead(
            a,
            { id: 'a', address: 'a:1' },
            LEASE_MS,
            () => {},
            () => false,
          ),
        ).toBe(1);
        // A's writer stops between BEGIN and COMMIT, holding the lease row's share lock.
        const stuck = await dataConnection(target, LEASE_MS);
        stuck.on('error', () => {});
        await stuck.query('BEGIN');
        await stuck.query('SELECT epoch FROM picompute_leader WHERE id = 1 FOR SHARE');
        const epoch = await waitToLead(
          b,
          { id: 'b', address: 'b:1' },
          LEASE_MS,
          (row) => seen.push(`${row.holder} ${row.live}`),
          () => false,
        );
        expect(epoch).toBe(2);
        // B saw A leading while the lease ran.
        expect(seen[0]).toBe('a true');
        expect(await leaderRow(b)).toMatchObject({ epoch: 2, holder: 'b', address: 'b:1', live: true });
        // The stuck session was ended by PostgreSQL.
        await expect(stuck.query('SELECT 1')).rejects.toThrow();
        // A, awake again: its writes and its renewal are refused, naming who leads now.
        const writer = await dataConnection(target, LEASE_MS);
        let wrote = false;
        const refused = await fenced(writer, 1, async () => {
          wrote = true;
        }).catch((err) => err);
        expect(refused).toBeInstanceOf(Deposed);
        expect(refused.message).toBe('coordinator b at b:1 took the lead (epoch 2; this one held epoch 1)');
        expect(wrote).toBe(false);
        await expect(renew(a, 1, LEASE_MS)).rejects.toThrow(/coordinator b at b:1 took the lead \(epoch 2; this one held epoch 1\)/);
        await writer.end();
        await stuck.end().catch(() => {});
      } finally {
        await a.end();
        await b.end();
      }
    }, 30_000);
  });

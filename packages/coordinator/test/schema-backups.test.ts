/**
 * Schema 4 keeps a job's backup counts past its end: a database written at
 * schema 3 (no such columns) opens with them added, its old jobs reading 0,
 * and a job that ends now reads back with its counts.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { summaryFromRow } from '../src/jobs/job-views.js';
import { openDatabase } from '../src/state/database.js';
import { INPUT_PARTS_SCHEMA } from '../src/state/input-parts.js';
import { NO_STATS, statsFromRow } from '../src/state/rows.js';
import { SCHEMA } from '../src/state/schema.js';
import { StateStore } from '../src/state/store.js';

describe('schema 4: backup counts in the jobs table', () => {
  it('a schema-3 database gains the columns; its old jobs show 0 and a new one its own counts', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'picompute-schema4-'));
    const old = new Database(join(dir, 'picompute.db'));
    old.pragma('auto_vacuum = INCREMENTAL');
    old.pragma('journal_mode = WAL');
    // Schema 3's jobs table: today's without the two columns.
    old.exec(SCHEMA.replace(/,\n\s*backups\s+INTEGER NOT NULL DEFAULT 0,\n\s*backups_won\s+INTEGER NOT NULL DEFAULT 0\n/, '\n'));
    old.exec(INPUT_PARTS_SCHEMA);
    expect((old.pragma('table_info(jobs)') as { name: string }[]).map((c) => c.name)).not.toContain('backups');
    old
      .prepare(
        "INSERT INTO jobs (name, user, request, state, tasks_total, tasks_done, submitted_at, started_at, ended_at) VALUES ('old', 'u', '{}', 'COMPLETED', 1, 1, 1, 1, 2)",
      )
      .run();
    old.pragma('user_version = 3');
    old.close();

    const db = openDatabase(dir);
    expect(db.pragma('user_version', { simple: true })).toBe(4);
    const store = new StateStore(db, true);
    expect(statsFromRow(store.job(1)!)).toMatchObject({ backups: 0, backupsWon: 0 });
    const id = store.insertJob({ name: 'n', user: 'u', bundleHash: 'b' } as never, 0, Buffer.from('code'), 10);
    store.endJob(
      id,
      { ...NO_STATS, backups: 3, backupsWon: 2, state: 'COMPLETED', reason: '', error: '', result: undefined, startedAt: 11, endedAt: 12 },
      false,
    );
    store.flush();
    expect(summaryFromRow(store.job(id)!)).toMatchObject({ backups: 3, backupsWon: 2, state: 'COMPLETED' });
    await store.reclaimer.idle();
    db.close();
  });
});

/**
 * Schema changes for state databases written by an older picompute, run at
 * open. Each says what it does in a log line, since some take a while.
 */
import type Database from 'better-sqlite3';
import { formatBytes } from '@picompute/sdk/units';
import { isDiskFull } from './disk-space.js';

const INCREMENTAL = 2;

/**
 * Schema 2: auto_vacuum=INCREMENTAL, so the pages of deleted rows can be
 * given back to the file system (see ./reclaimer.ts). SQLite fixes the
 * auto-vacuum mode when the first table is made; switching an existing
 * database takes one VACUUM, which rewrites the file (only its used pages:
 * quick when most are free, and it needs about that much free disk). When
 * it cannot run (disk full), the database stays as it was and the switch is
 * tried again at the next start. Returns whether the database is now at 2.
 */
export function toIncrementalVacuum(db: Database.Database, file: string, log: (line: string) => void): boolean {
  if (db.pragma('auto_vacuum', { simple: true }) === INCREMENTAL) return true;
  const bytes = (db.pragma('page_count', { simple: true }) as number) * (db.pragma('page_size', { simple: true }) as number);
  const free = (db.pragma('freelist_count', { simple: true }) as number) * (db.pragma('page_size', { simple: true }) as number);
  log(
    `state database ${file}: switching to incremental auto-vacuum (schema 2), a one-time VACUUM of ${formatBytes(bytes)} ` +
      `(${formatBytes(free)} of it free pages)`,
  );
  const started = performance.now();
  try {
    db.pragma(`auto_vacuum = ${INCREMENTAL}`);
    db.exec('VACUUM');
  } catch (err) {
    if (!isDiskFull(err)) throw err;
    log(
      `state database ${file}: the one-time VACUUM needs free disk about the size of the used part of the database and found none; starting without it ` +
        '(tried again at the next start)',
    );
    return false;
  }
  const after = (db.pragma('page_count', { simple: true }) as number) * (db.pragma('page_size', { simple: true }) as number);
  log(`state database ${file}: switched in ${((performance.now() - started) / 1000).toFixed(1)} s; the file is now ${formatBytes(after)}`);
  return true;
}

/**
 * Schema 4: outputs.node, where a keyed job's map left its runs (the output
 * itself, a manifest, says which runs and how big). Nullable, so adding it
 * rewrites nothing (SQLite only changes the table's definition) and copies
 * of older rows through PostgreSQL stay valid.
 */
export function toMapRunNodes(db: Database.Database): void {
  const columns = db.pragma('table_info(outputs)') as { name: string }[];
  if (!columns.some((c) => c.name === 'node')) db.exec('ALTER TABLE outputs ADD COLUMN node TEXT');
}

/**
 * Schema 4 too: the jobs table keeps a job's backup counts (`backups`,
 * `backups_won`) past its end. Adding a column with a default rewrites
 * nothing, so this is instant; older jobs read 0. Done whatever the version
 * (a database still waiting for schema 2's VACUUM gets them too).
 */
export function addBackupColumns(db: Database.Database): void {
  const have = new Set((db.pragma('table_info(jobs)') as { name: string }[]).map((c) => c.name));
  for (const column of ['backups', 'backups_won']) if (!have.has(column)) db.exec(`ALTER TABLE jobs ADD COLUMN ${column} INTEGER NOT NULL DEFAULT 0`);
}

/**
 * Opens the coordinator's SQLite state (better-sqlite3, WAL) under
 * --state-dir, refusing rather than guessing: a directory it cannot write, a
 * file that is not a picompute database or is corrupt, or one written by a
 * newer schema all stop the coordinator with a message, and nothing is
 * deleted or rewritten.
 *
 * Durability and SD cards: WAL with synchronous=NORMAL, so a commit costs no
 * fsync (the OS writes in its own time and checkpoints fsync in batches), and
 * the cluster commits once per event-loop turn, not once per task. A killed
 * process (SIGKILL) loses nothing committed; a power cut may lose the last
 * moments of task results (their tasks then run again), but never a job the
 * coordinator acknowledged: a submit is answered only after the WAL file is
 * fsynced (StateStore.synced).
 */
import { accessSync, constants, mkdirSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { addBackupColumns, toIncrementalVacuum, toMapRunNodes } from './migrations.js';
import { INPUT_PARTS_SCHEMA } from './input-parts.js';
import { SCHEMA, SCHEMA_VERSION } from './schema.js';

export class StateError extends Error {
  override name = 'StateError';
}

export function defaultStateDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_STATE_HOME || join(homedir(), '.local', 'state'), 'picompute');
}

/**
 * `durable: false` is for state that dies with its process anyway (the
 * embedded cluster): no fsync at all, which saves the cost of writing big
 * inputs twice to disk.
 */
export function openDatabase(stateDir: string, { durable = true, log = (_line: string) => {} } = {}): Database.Database {
  try {
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    accessSync(stateDir, constants.W_OK | constants.R_OK);
  } catch (err) {
    throw new StateError(`state dir ${stateDir} is not writable (${(err as Error).message}); set \`stateDir\` to a directory this user can write`);
  }
  const file = join(stateDir, 'picompute.db');
  const existed = statSync(file, { throwIfNoEntry: false }) !== undefined;
  let db: Database.Database;
  try {
    db = new Database(file, { fileMustExist: existed });
  } catch (err) {
    throw new StateError(`cannot open state database ${file}: ${(err as Error).message}`);
  }
  try {
    check(db, file, existed);
    const fresh = !existed || userVersion(db) === 0;
    // Only possible before the first table: see ./migrations.ts for databases made before schema 2.
    if (fresh) db.pragma('auto_vacuum = INCREMENTAL');
    db.pragma('journal_mode = WAL');
    db.pragma(durable ? 'synchronous = NORMAL' : 'synchronous = OFF');
    db.pragma('foreign_keys = ON');
    if (fresh) {
      db.exec(SCHEMA);
      db.pragma(`user_version = ${SCHEMA_VERSION}`);
    } else if (userVersion(db) < 2 && toIncrementalVacuum(db, file, log)) {
      db.pragma('user_version = 2');
    }
    // Schema 3 only adds tables (made even when the switch to 2 must wait for disk); at 3, an older
    // picompute refuses the database rather than miss the inputs stored in them.
    db.exec(INPUT_PARTS_SCHEMA);
    if (userVersion(db) === 2) db.pragma('user_version = 3');
    // Schema 4 only adds columns, made at any version for the same reason.
    toMapRunNodes(db);
    addBackupColumns(db);
    if (userVersion(db) === 3) db.pragma('user_version = 4');
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

function userVersion(db: Database.Database): number {
  return db.pragma('user_version', { simple: true }) as number;
}

function check(db: Database.Database, file: string, existed: boolean): void {
  if (!existed) return;
  let version: number;
  let integrity: string;
  try {
    version = userVersion(db);
    integrity = String(db.pragma('quick_check', { simple: true }));
  } catch (err) {
    throw new StateError(`state database ${file} cannot be read (${(err as Error).message}); it is left as it is: move it away to start with an empty state`);
  }
  if (integrity !== 'ok') {
    throw new StateError(
      `state database ${file} is corrupt (${integrity}); it is left as it is: restore a backup, or move it away to start with an empty state`,
    );
  }
  if (version > SCHEMA_VERSION) {
    throw new StateError(
      `state database ${file} was written by a newer picompute (schema ${version}; this one knows ${SCHEMA_VERSION}); upgrade picompute, or choose ` +
        `another \`stateDir\``,
    );
  }
  if (version > 0) {
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'jobs'").get();
    if (!tables) throw new StateError(`${file} is not a picompute state database; it is left as it is: choose another \`stateDir\``);
  } else {
    const other = db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE type = 'table'").get() as { n: number };
    if (other.n > 0) throw new StateError(`${file} is not a picompute state database; it is left as it is: choose another \`stateDir\``);
  }
}

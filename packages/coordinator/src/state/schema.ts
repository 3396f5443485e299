/** The coordinator's tables. Bump SCHEMA_VERSION with every change and add a migration. */
export const SCHEMA_VERSION = 4;
// 2: auto_vacuum=INCREMENTAL (no table changed; see ./migrations.ts).
// 3: inputs in parts, attempts of re-runs in task_attempts (./input-parts.ts); `tasks` holds only older jobs' inputs.
// 4: outputs.node, the node holding a keyed job's map runs (./migrations.ts), so a restart need not run its maps again.
//    and jobs.backups, jobs.backups_won (backup copies of stragglers, kept past a job's end).

export const SCHEMA = `
CREATE TABLE jobs (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  name          TEXT NOT NULL,
  user          TEXT NOT NULL,
  request       TEXT NOT NULL,          -- the SubmitRequest as JSON
  state         TEXT NOT NULL,
  reason        TEXT NOT NULL DEFAULT '',
  error         TEXT NOT NULL DEFAULT '',
  tasks_total   INTEGER NOT NULL,
  tasks_done    INTEGER NOT NULL DEFAULT 0,
  attempts      INTEGER NOT NULL DEFAULT 0,
  cpu_ms        REAL NOT NULL DEFAULT 0,
  max_heap_mb   REAL NOT NULL DEFAULT 0,
  nodes         TEXT NOT NULL DEFAULT '',
  cores         INTEGER NOT NULL DEFAULT 0,
  submitted_at  REAL NOT NULL,
  started_at    REAL NOT NULL DEFAULT 0,
  ended_at      REAL NOT NULL DEFAULT 0,
  result        BLOB,
  backups       INTEGER NOT NULL DEFAULT 0,
  backups_won   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX jobs_state ON jobs(state);
CREATE TABLE tasks (
  job_id    INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
  idx       INTEGER NOT NULL,
  input     BLOB NOT NULL,
  attempts  INTEGER NOT NULL DEFAULT 0,   -- written only for re-runs
  PRIMARY KEY (job_id, idx)
) WITHOUT ROWID;
-- A row per finished task; apart from tasks so a result never rewrites its input.
CREATE TABLE outputs (
  job_id    INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
  idx       INTEGER NOT NULL,
  attempts  INTEGER NOT NULL,
  output    BLOB NOT NULL,
  node      TEXT,                 -- a keyed job's map: the node whose disk holds the runs its output (a manifest) lists
  PRIMARY KEY (job_id, idx)
) WITHOUT ROWID;
CREATE TABLE logs (
  job_id  INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
  task    INTEGER NOT NULL,
  node    TEXT NOT NULL,
  line    TEXT NOT NULL
);
CREATE INDEX logs_job ON logs(job_id);
CREATE TABLE blobs (
  hash   TEXT PRIMARY KEY,
  bytes  BLOB NOT NULL
) WITHOUT ROWID;
CREATE TABLE drained_nodes (
  node  TEXT PRIMARY KEY
) WITHOUT ROWID;
`;

/**
 * The leader's state, kept in PostgreSQL. The coordinator works on a local
 * SQLite copy exactly as it does without PostgreSQL (StateStore, synchronous);
 * triggers on the copy note every row a transaction touches, and `ship()`
 * sends those rows, as they now are (or their deletion), to PostgreSQL in one
 * fenced transaction (see ./leadership.ts). A submit is acknowledged only
 * after `synced()`, when everything committed to the copy before it is
 * committed in PostgreSQL.
 *
 * PostgreSQL keeps one table per SQLite table (`pc_` + its name, columns
 * mapped by SQLite's type affinity) and the SQLite DDL itself, so a standby
 * that takes over builds the same copy from it (`loadCopy`): tables added
 * later by any part of the coordinator (CREATE TABLE IF NOT EXISTS) follow
 * without a line here.
 */
import type Database from 'better-sqlite3';
import type pg from 'pg';

interface Table {
  name: string;
  columns: { name: string; pgType: string }[];
  /** Key columns; `_rowid` for a table without a primary key. */
  keys: string[];
  rowid: boolean;
  select: Database.Statement;
}

export interface Batch {
  tables: { table: Table; upserts: Record<string, unknown>[]; deletes: unknown[][] }[];
  ddl: { name: string; sql: string }[];
  /** AUTOINCREMENT counters that moved (sqlite_sequence): a purged job's id is never given again, even by the next leader. */
  sequences: { name: string; seq: number }[];
  /** Rows. */
  size: number;
  /** About what the rows weigh in memory (values' lengths), for the bound on what waits for the database. */
  bytes: number;
}

function weight(row: Record<string, unknown>): number {
  let n = 16;
  for (const v of Object.values(row)) n += Buffer.isBuffer(v) ? v.length : typeof v === 'string' ? v.length : 8;
  return n;
}

/** How long one slice of a takeover's inserts may hold the event loop. */
const INSERT_SLICE_MS = 20;

const q = (name: string) => `"${name.replace(/"/g, '""')}"`;

/** PostgreSQL type for an SQLite declared type, by SQLite's affinity rules. */
function pgType(declared: string): string {
  const t = declared.toUpperCase();
  if (t.includes('INT')) return 'bigint';
  if (/CHAR|CLOB|TEXT/.test(t)) return 'text';
  if (t === '' || t.includes('BLOB')) return 'bytea';
  return 'double precision';
}

/** The schema objects of the copy that PostgreSQL keeps (tables first). */
function ddlOf(db: Database.Database): { name: string; type: string; sql: string }[] {
  return db
    .prepare(
      "SELECT name, type, sql FROM main.sqlite_master WHERE type IN ('table', 'index') AND sql IS NOT NULL AND name NOT LIKE 'sqlite_%' ORDER BY type DESC, rowid",
    )
    .all() as { name: string; type: string; sql: string }[];
}

export class Replica {
  readonly #tables = new Map<string, Table>();
  readonly #known = new Set<string>();
  readonly #seqs = new Map<string, number>();
  readonly #drain: Database.Statement;
  readonly #clear: Database.Statement;

  constructor(readonly db: Database.Database) {
    db.exec('CREATE TEMP TABLE IF NOT EXISTS pc_changes (tbl TEXT NOT NULL, k TEXT NOT NULL)');
    this.#drain = db.prepare('SELECT tbl, k FROM temp.pc_changes');
    this.#clear = db.prepare('DELETE FROM temp.pc_changes');
  }

  /**
   * Watches, without sending them again, the tables and indexes PostgreSQL
   * already has (`names`, from loadCopy): a takeover does not rewrite the database.
   */
  adopt(names: Set<string>): void {
    for (const o of ddlOf(this.db)) {
      if (!names.has(o.name)) continue;
      this.#known.add(o.name);
      if (o.type === 'table') this.#watch(o.name);
    }
  }

  #sequences(): { name: string; seq: number }[] {
    const moved: { name: string; seq: number }[] = [];
    const exists = this.db.prepare("SELECT 1 FROM main.sqlite_master WHERE name = 'sqlite_sequence'").get();
    if (!exists) return moved;
    for (const { name, seq } of this.db.prepare('SELECT name, seq FROM main.sqlite_sequence').all() as { name: string; seq: number }[]) {
      if (this.#seqs.get(name) === seq) continue;
      this.#seqs.set(name, seq);
      moved.push({ name, seq });
    }
    return moved;
  }

  /** The table as PostgreSQL keeps it; watched for changes from now on. */
  #watch(name: string): Table {
    const info = this.db.pragma(`main.table_info(${q(name)})`) as { name: string; type: string; pk: number }[];
    const pkCols = info.filter((c) => c.pk > 0).sort((a, b) => a.pk - b.pk);
    const rowid = pkCols.length === 0;
    const keys = rowid ? ['_rowid'] : pkCols.map((c) => c.name);
    const columns = info.map((c) => ({ name: c.name, pgType: pgType(c.type) }));
    if (rowid) columns.unshift({ name: '_rowid', pgType: 'bigint' });
    const where = (rowid ? ['rowid'] : keys).map((k) => `${q(k)} = ?`).join(' AND ');
    const cols = info.map((c) => q(c.name)).join(', ');
    const select = this.db.prepare(`SELECT ${rowid ? 'rowid AS _rowid, ' : ''}${cols} FROM main.${q(name)} WHERE ${where}`);
    const key = (row: string) => `json_array(${(rowid ? ['rowid'] : keys).map((k) => `${row}.${q(k)}`).join(', ')})`;
    const note = (row: string) => `INSERT INTO temp.pc_changes (tbl, k) VALUES (${q(name).replace(/"/g, "'")}, ${key(row)});`;
    this.db.exec(`
      CREATE TEMP TRIGGER IF NOT EXISTS ${q(`pc_${name}_i`)} AFTER INSERT ON main.${q(name)} BEGIN ${note('NEW')} END;
      CREATE TEMP TRIGGER IF NOT EXISTS ${q(`pc_${name}_u`)} AFTER UPDATE ON main.${q(name)} BEGIN ${note('OLD')} ${note('NEW')} END;
      CREATE TEMP TRIGGER IF NOT EXISTS ${q(`pc_${name}_d`)} AFTER DELETE ON main.${q(name)} BEGIN ${note('OLD')} END;`);
    const table = { name, columns, keys, rowid, select };
    this.#tables.set(name, table);
    return table;
  }

  /**
   * Everything changed since the last call, read now (in this turn, so it is
   * what the copy has committed): rows as they are, or their keys if deleted.
   * Tables new since the last call go whole, with their DDL.
   */
  take(): Batch {
    const batch: Batch = { tables: [], ddl: [], sequences: this.#sequences(), size: 0, bytes: 0 };
    const whole: Table[] = [];
    for (const o of ddlOf(this.db)) {
      if (this.#known.has(o.name)) continue;
      this.#known.add(o.name);
      batch.ddl.push({ name: o.name, sql: o.sql });
      if (o.type === 'table') whole.push(this.#watch(o.name));
    }
    const changed = new Map<string, Set<string>>();
    for (const { tbl, k } of this.#drain.all() as { tbl: string; k: string }[]) {
      let keys = changed.get(tbl);
      if (!keys) changed.set(tbl, (keys = new Set()));
      keys.add(k);
    }
    this.#clear.run();
    for (const table of whole) {
      changed.delete(table.name);
      const cols = table.columns.map((c) => (c.name === '_rowid' ? 'rowid AS _rowid' : q(c.name))).join(', ');
      const upserts = this.db.prepare(`SELECT ${cols} FROM main.${q(table.name)}`).all() as Record<string, unknown>[];
      batch.tables.push({ table, upserts, deletes: [] });
      batch.size += upserts.length;
      for (const row of upserts) batch.bytes += weight(row);
    }
    for (const [name, keys] of changed) {
      const table = this.#tables.get(name)!;
      const upserts: Record<string, unknown>[] = [];
      const deletes: unknown[][] = [];
      for (const k of keys) {
        const values = JSON.parse(k) as unknown[];
        const row = table.select.get(...values) as Record<string, unknown> | undefined;
        if (row) {
          upserts.push(row);
          batch.bytes += weight(row);
        } else {
          deletes.push(values);
          batch.bytes += 32;
        }
      }
      batch.tables.push({ table, upserts, deletes });
      batch.size += keys.size;
    }
    return batch;
  }
}

/** Sends a batch inside the caller's transaction. */
export async function sendBatch(client: pg.Client, batch: Batch): Promise<void> {
  for (const { name, sql } of batch.ddl) {
    await client.query('INSERT INTO picompute_tables (name, sqlite_sql) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET sqlite_sql = EXCLUDED.sqlite_sql', [
      name,
      sql,
    ]);
  }
  for (const { name, seq } of batch.sequences) {
    await client.query('INSERT INTO picompute_meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value', [
      `seq:${name}`,
      String(seq),
    ]);
  }
  for (const { table, upserts, deletes } of batch.tables) {
    await ensureTable(client, table);
    const pgName = q(`pc_${table.name}`);
    if (deletes.length) {
      const keyTypes = table.keys.map((k) => table.columns.find((c) => c.name === k)!.pgType);
      const arrays = table.keys.map((_, i) => deletes.map((d) => d[i]));
      const unnest = keyTypes.map((t, i) => `$${i + 1}::${t}[]`).join(', ');
      await client.query(`DELETE FROM ${pgName} WHERE (${table.keys.map(q).join(', ')}) IN (SELECT * FROM unnest(${unnest}))`, arrays);
    }
    if (upserts.length === 0) continue;
    const cols = table.columns;
    const perRow = cols.length;
    const rowsPerStatement = Math.max(1, Math.floor(30_000 / perRow));
    const nonKeys = cols.filter((c) => !table.keys.includes(c.name));
    const onConflict = nonKeys.length ? `DO UPDATE SET ${nonKeys.map((c) => `${q(c.name)} = EXCLUDED.${q(c.name)}`).join(', ')}` : 'DO NOTHING';
    for (let i = 0; i < upserts.length; i += rowsPerStatement) {
      const rows = upserts.slice(i, i + rowsPerStatement);
      const params: unknown[] = [];
      const values = rows.map((row) => `(${cols.map((c) => `$${params.push(toPg(row[c.name], c.pgType))}`).join(', ')})`).join(', ');
      await client.query(
        `INSERT INTO ${pgName} (${cols.map((c) => q(c.name)).join(', ')}) VALUES ${values} ON CONFLICT (${table.keys.map(q).join(', ')}) ${onConflict}`,
        params,
      );
    }
  }
}

/** SQLite types values per row, not per column: a value of another type is stored as its text. */
function toPg(value: unknown, type: string): unknown {
  if (value === null || value === undefined) return null;
  if (type === 'bytea' && !Buffer.isBuffer(value)) return Buffer.from(String(value));
  if (type !== 'bytea' && Buffer.isBuffer(value)) return value.toString();
  return value;
}

const ensured = new WeakMap<pg.Client, Set<string>>();

async function ensureTable(client: pg.Client, table: Table): Promise<void> {
  let done = ensured.get(client);
  if (!done) ensured.set(client, (done = new Set()));
  if (done.has(table.name)) return;
  const pgName = q(`pc_${table.name}`);
  await client.query(
    `CREATE TABLE IF NOT EXISTS ${pgName} (${table.columns.map((c) => `${q(c.name)} ${c.pgType}`).join(', ')}, PRIMARY KEY (${table.keys.map(q).join(', ')}))`,
  );
  // Columns a newer picompute added to a table an older one made.
  for (const c of table.columns) await client.query(`ALTER TABLE ${pgName} ADD COLUMN IF NOT EXISTS ${q(c.name)} ${c.pgType}`);
  done.add(table.name);
}

/**
 * Fills a fresh copy (made by openDatabase at the current schema) with what
 * PostgreSQL holds: the tables and indexes other parts of the coordinator
 * added, then every row. Returns how many rows it read.
 */
export async function loadCopy(client: pg.Client, db: Database.Database, beforeInsert: () => Promise<void>): Promise<{ rows: number; names: Set<string> }> {
  const ddl = (await client.query('SELECT name, sqlite_sql FROM picompute_tables')).rows as { name: string; sqlite_sql: string }[];
  const have = new Set((db.prepare("SELECT name FROM main.sqlite_master WHERE name NOT LIKE 'sqlite_%'").all() as { name: string }[]).map((r) => r.name));
  const missing = ddl.filter((d) => !have.has(d.name));
  // Tables before the indexes on them.
  for (const d of missing.filter((m) => /^\s*CREATE\s+TABLE/i.test(m.sqlite_sql))) db.exec(d.sqlite_sql);
  for (const d of missing.filter((m) => !/^\s*CREATE\s+TABLE/i.test(m.sqlite_sql))) db.exec(d.sqlite_sql);
  let rows = 0;
  const tables = ddl.filter((d) => /^\s*CREATE\s+TABLE/i.test(d.sqlite_sql)).map((d) => d.name);
  // Parents before children, for the copy's foreign keys.
  const order = ['jobs', ...tables.filter((t) => t !== 'jobs')].filter((t) => tables.includes(t));
  const pending: { name: string; cols: string[]; rows: Record<string, unknown>[] }[] = [];
  for (const name of order) {
    const exists = await client.query('SELECT 1 FROM pg_tables WHERE tablename = $1 AND schemaname = current_schema()', [`pc_${name}`]);
    if (exists.rowCount === 0) continue;
    const copyCols = new Set((db.pragma(`main.table_info(${q(name)})`) as { name: string }[]).map((c) => c.name));
    const result = await client.query(`SELECT * FROM ${q(`pc_${name}`)}`);
    const cols = result.fields.map((f) => f.name).filter((c) => c === '_rowid' || copyCols.has(c));
    pending.push({ name, cols, rows: result.rows });
    rows += result.rows.length;
  }
  // The inserts take seconds for a large state: the lease is renewed just before, and they go in slices of
  // INSERT_SLICE_MS, each its own transaction (nobody reads the copy yet), with the event loop free between
  // them, so the lease is renewed on time however much the database holds.
  await beforeInsert();
  for (const { name, cols, rows } of pending) {
    if (rows.length === 0) continue;
    const insert = db.prepare(
      `INSERT INTO main.${q(name)} (${cols.map((c) => (c === '_rowid' ? 'rowid' : q(c))).join(', ')}) VALUES (${cols.map(() => '?').join(', ')})`,
    );
    const slice = db.transaction((from: number) => {
      const deadline = performance.now() + INSERT_SLICE_MS;
      let at = from;
      while (at < rows.length && (at === from || performance.now() < deadline)) {
        const row = rows[at++]!;
        insert.run(...cols.map((c) => row[c] as unknown));
      }
      return at;
    });
    for (let at = 0; at < rows.length; ) {
      at = slice(at);
      if (at < rows.length) await new Promise((resolve) => setImmediate(resolve));
    }
  }
  const seqs = (await client.query("SELECT substr(key, 5) AS name, value FROM picompute_meta WHERE key LIKE 'seq:%'")).rows as {
    name: string;
    value: string;
  }[];
  for (const { name, value } of seqs) {
    const set = db.prepare('UPDATE main.sqlite_sequence SET seq = max(seq, ?) WHERE name = ?').run(Number(value), name);
    if (set.changes === 0) db.prepare('INSERT INTO main.sqlite_sequence (name, seq) VALUES (?, ?)').run(name, Number(value));
  }
  return { rows, names: new Set(ddl.map((d) => d.name)) };
}

/**
 * Task outputs written many rows to a statement. One INSERT per output cost
 * the coordinator ~2.7 µs of CPU per tiny task; 64 rows to a statement cost
 * ~1.2 µs a row (better-sqlite3, WAL, measured with W1's outputs), and the
 * rows still commit in the same transaction as the rest of the turn.
 */
import type Database from 'better-sqlite3';

const ROWS = 64;
const INSERT = 'INSERT OR REPLACE INTO outputs (job_id, idx, attempts, output) VALUES ';

export class OutputRows {
  readonly #many: Database.Statement;
  readonly #one: Database.Statement;
  readonly #args = new Array<unknown>(ROWS * 4);

  constructor(db: Database.Database) {
    this.#many = db.prepare(INSERT + Array(ROWS).fill('(?, ?, ?, ?)').join(', '));
    this.#one = db.prepare(`${INSERT}(?, ?, ?, ?)`);
  }

  /** Writes `rows`: (job, index, attempts, output) after one another, flat. */
  write(rows: readonly unknown[]): void {
    let at = 0;
    const args = this.#args;
    for (; rows.length - at >= ROWS * 4; at += ROWS * 4) {
      for (let k = 0; k < ROWS * 4; k++) args[k] = rows[at + k];
      this.#many.run(args);
    }
    for (; at < rows.length; at += 4) this.#one.run(rows[at], rows[at + 1], rows[at + 2], rows[at + 3]);
  }
}

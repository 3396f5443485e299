/**
 * A leading coordinator's side of PostgreSQL: renews the lease on its own
 * connection (a long load or commit never delays it), and sends the copy's
 * changes on another, every few milliseconds and whenever a submit waits
 * (`synced`). Batches that could not be sent (the database restarting or
 * gone) are kept in memory, in order, up to MAX_UNSENT_BYTES, and sent with
 * the next once it is back; meanwhile new submits are refused (`unavailable`).
 * A leader cut off from the database goes on running its jobs but writes
 * nothing until it has checked, in the database, that it still leads: one
 * that finds another epoch steps down (`onDeposed`) and sends nothing more,
 * and so does one whose unsent changes outgrow the bound.
 */
import type pg from 'pg';
import { StateError } from '../database.js';
import { describeUrl, pgConnect } from './connection.js';
import type { PgTarget } from './connection.js';
import { Deposed, fenced, release, renew } from './leadership.js';
import type { Batch, Replica } from './replica.js';
import { sendBatch } from './replica.js';

const SHIP_EVERY_MS = 20;

/**
 * A connection for the leader's writes. A leader stopped (SIGSTOP) inside a
 * transaction would hold the lease row's share lock, and with it every
 * takeover, for as long as it is stopped: PostgreSQL ends such a session
 * after a lease.
 */
export async function dataConnection(target: PgTarget, leaseMs: number): Promise<pg.Client> {
  const client = await pgConnect(target, 'coordinator');
  await client.query(`SET idle_in_transaction_session_timeout = ${Math.ceil(leaseMs)}`);
  return client;
}

/** What a leader keeps in memory for a database that does not answer, before it gives up and steps down. */
export const MAX_UNSENT_BYTES = 256 * 1024 * 1024;
/** How long a submit waits for a database that does not answer before it is refused. */
const SYNC_WAIT_MS = 10_000;

export class PgLeader {
  #chain: Promise<void> = Promise.resolve();
  readonly #unsent: Batch[] = [];
  #unsentBytes = 0;
  /** Since when, and why, the database does not answer; undefined while it does. */
  #down: { since: number; why: string } | undefined;
  #deposed: string | undefined;
  #renewing = false;
  #shipping = false;
  #triedAt = 0;
  readonly #timers: NodeJS.Timeout[] = [];

  constructor(
    private readonly target: PgTarget,
    private leaseClient: pg.Client,
    private dataClient: pg.Client,
    readonly epoch: number,
    private readonly replica: Replica,
    private readonly leaseMs: number,
    private readonly log: (line: string) => void,
    private readonly onDeposed: (why: string) => void,
  ) {
    this.#timers.push(setInterval(() => void this.#renew(), leaseMs / 3));
    this.#timers.push(
      setInterval(() => {
        // While the database does not answer, a try (and a new connection) every half second, not every turn.
        if (this.#shipping || (this.#down && performance.now() - this.#triedAt < 500)) return;
        this.#triedAt = performance.now();
        void this.#queueShip().catch(() => {});
      }, SHIP_EVERY_MS),
    );
  }

  get deposed(): boolean {
    return this.#deposed !== undefined;
  }

  /**
   * Resolves once everything committed to the copy before this call is
   * committed in PostgreSQL; waits up to SYNC_WAIT_MS for a database that
   * does not answer, then rejects.
   */
  async synced(): Promise<void> {
    const deadline = performance.now() + SYNC_WAIT_MS;
    for (;;) {
      try {
        return await this.#queueShip();
      } catch (err) {
        if (this.#deposed) throw err;
        if (performance.now() > deadline) {
          throw new StateError(
            `the state database ${describeUrl(this.target.url)} did not answer within ${SYNC_WAIT_MS / 1000} s (${this.#down?.why ?? (err as Error).message}), so this submit is not acknowledged; this coordinator keeps the job and stores it once the database is back: see \`picompute jobs\` before submitting again`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    }
  }

  /** Why a new job cannot be taken now (the database does not answer), or undefined. */
  unavailable(): StateError | undefined {
    if (!this.#down) return undefined;
    const s = Math.round((performance.now() - this.#down.since) / 1000);
    return new StateError(
      `the state database ${describeUrl(this.target.url)} has not answered for ${s} s (${this.#down.why}): new jobs are refused until it is back; running jobs carry on and their results are stored once it is back; submit again later`,
    );
  }

  #queueShip(): Promise<void> {
    this.#shipping = true;
    const run = this.#chain.then(() => this.#ship());
    this.#chain = run.catch(() => {});
    return run.finally(() => {
      this.#shipping = false;
    });
  }

  async #ship(): Promise<void> {
    if (this.#deposed) throw new StateError(`this coordinator is no longer the leader: ${this.#deposed}`);
    const batch = this.replica.take();
    if (batch.size || batch.ddl.length) {
      this.#unsent.push(batch);
      this.#unsentBytes += batch.bytes;
    }
    if (this.#unsent.length === 0) return;
    try {
      await fenced(this.dataClient, this.epoch, async () => {
        for (const b of this.#unsent) await sendBatch(this.dataClient, b);
      });
      this.#unsent.length = 0;
      this.#unsentBytes = 0;
      if (this.#down) this.log(`state database ${describeUrl(this.target.url)} answers again; every change kept meanwhile is stored`);
      this.#down = undefined;
    } catch (err) {
      if (err instanceof Deposed) {
        this.#stepDown(err.message);
        throw new StateError(`this coordinator is no longer the leader: ${err.message}`);
      }
      const why = (err as Error).message;
      this.#failed(why);
      if (this.#unsentBytes > MAX_UNSENT_BYTES) {
        this.#stepDown(
          `the state database has not answered for ${Math.round((performance.now() - this.#down!.since) / 1000)} s and the changes kept for it passed ${MAX_UNSENT_BYTES / 1024 / 1024} MiB; the tasks they record run again under the next leader`,
        );
      }
      this.dataClient = await this.#reconnect(this.dataClient);
      throw new StateError(`the state database ${describeUrl(this.target.url)} did not take the change (${why})`);
    }
  }

  #failed(why: string): void {
    if (this.#down) return;
    this.#down = { since: performance.now(), why };
    this.log(
      `cannot reach the state database ${describeUrl(this.target.url)} (${why}): new jobs are refused, running jobs carry on with their changes kept in memory (up to ${MAX_UNSENT_BYTES / 1024 / 1024} MiB), and nothing is written until this coordinator has checked that it still leads`,
    );
  }

  async #reconnect(old: pg.Client): Promise<pg.Client> {
    await old.end().catch(() => {});
    try {
      return await dataConnection(this.target, this.leaseMs);
    } catch {
      return old;
    }
  }

  async #renew(): Promise<void> {
    if (this.#renewing || this.#deposed) return;
    this.#renewing = true;
    try {
      await renew(this.leaseClient, this.epoch, this.leaseMs).catch(async (err) => {
        if (err instanceof Deposed) throw err;
        // A connection lost since the last renewal (the database restarted): a new one, and at once again.
        this.leaseClient = await this.#reconnect(this.leaseClient);
        await renew(this.leaseClient, this.epoch, this.leaseMs);
      });
    } catch (err) {
      if (err instanceof Deposed) return this.#stepDown(err.message);
      // A standby that reaches the database may lead once the lease runs out: this one finds out at its next write.
      this.#failed((err as Error).message);
    } finally {
      this.#renewing = false;
    }
  }

  #stepDown(why: string): void {
    if (this.#deposed) return;
    this.#deposed = why;
    for (const t of this.#timers) clearInterval(t);
    this.onDeposed(why);
  }

  /** Sends what is left, gives the lease up, and closes both connections. */
  async close(): Promise<void> {
    for (const t of this.#timers) clearInterval(t);
    if (!this.#deposed) {
      await this.#queueShip().catch((err: Error) => this.log(`at stop: ${err.message}`));
      await release(this.leaseClient, this.epoch).catch(() => {});
    }
    this.#deposed ??= 'stopped';
    await Promise.all([this.leaseClient.end().catch(() => {}), this.dataClient.end().catch(() => {})]);
  }
}

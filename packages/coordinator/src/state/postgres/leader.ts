/**
 * A leading coordinator's side of PostgreSQL: renews the lease on its own
 * connection (a long load or commit never delays it), and sends the copy's
 * changes on another, every few milliseconds and whenever a submit waits
 * (`synced`). Batches that could not be sent (the database restarting) are
 * kept, in order, and sent with the next; a leader that cannot renew its
 * lease for a whole lease, or finds another epoch, steps down (`onDeposed`)
 * and sends nothing more.
 */
import type pg from 'pg';
import { StateError } from '../database.js';
import { describeUrl, pgConnect } from './connection.js';
import type { PgTarget } from './connection.js';
import { Deposed, fenced, release, renew } from './leadership.js';
import type { Batch, Replica } from './replica.js';
import { sendBatch } from './replica.js';

const SHIP_EVERY_MS = 20;

export class PgLeader {
  #chain: Promise<void> = Promise.resolve();
  readonly #unsent: Batch[] = [];
  #renewedAt = performance.now();
  #deposed: string | undefined;
  #renewing = false;
  #shipping = false;
  readonly #timers: NodeJS.Timeout[] = [];
  #lastFailure = '';

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
        if (!this.#shipping) void this.#queueShip().catch(() => {});
      }, SHIP_EVERY_MS),
    );
  }

  get deposed(): boolean {
    return this.#deposed !== undefined;
  }

  /** Resolves once everything committed to the copy before this call is committed in PostgreSQL. */
  synced(): Promise<void> {
    return this.#queueShip();
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
    if (batch.size || batch.ddl.length) this.#unsent.push(batch);
    if (this.#unsent.length === 0) return;
    try {
      await fenced(this.dataClient, this.epoch, async () => {
        for (const b of this.#unsent) await sendBatch(this.dataClient, b);
      });
      this.#unsent.length = 0;
      if (this.#lastFailure) this.log(`state database ${describeUrl(this.target.url)} reachable again; every change is stored`);
      this.#lastFailure = '';
    } catch (err) {
      if (err instanceof Deposed) {
        this.#stepDown(err.message);
        throw new StateError(`this coordinator is no longer the leader: ${err.message}`);
      }
      const message = (err as Error).message;
      if (message !== this.#lastFailure) this.log(`cannot store changes in ${describeUrl(this.target.url)} (${message}); kept in memory and retried`);
      this.#lastFailure = message;
      this.dataClient = await this.#reconnect(this.dataClient);
      throw new StateError(`the state database ${describeUrl(this.target.url)} did not take the change (${message}); try again`);
    }
  }

  async #reconnect(old: pg.Client): Promise<pg.Client> {
    await old.end().catch(() => {});
    try {
      return await pgConnect(this.target, 'coordinator');
    } catch {
      return old;
    }
  }

  async #renew(): Promise<void> {
    if (this.#renewing || this.#deposed) return;
    this.#renewing = true;
    try {
      await renew(this.leaseClient, this.epoch, this.leaseMs);
      this.#renewedAt = performance.now();
    } catch (err) {
      if (err instanceof Deposed) return this.#stepDown(err.message);
      const since = performance.now() - this.#renewedAt;
      if (since > this.leaseMs) {
        return this.#stepDown(`could not renew the lease for ${Math.round(since)} ms (${(err as Error).message}), so a standby may lead now`);
      }
      this.leaseClient = await this.#reconnect(this.leaseClient);
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

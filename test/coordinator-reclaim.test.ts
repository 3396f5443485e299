/**
 * The coordinator gives disk back: a state database from before schema 2 is
 * switched to incremental auto-vacuum once (and says so), a purge past --keep
 * runs in the background in many small slices and leaves a file that has
 * shrunk, not one of free pages; and when a job ends, the outputs nobody will
 * read (a fold job's map outputs, a failed job's outputs) are deleted.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent } from '@picompute/agent';
import type { Agent } from '@picompute/agent';
import { startCoordinator } from '@picompute/coordinator';
import type { Coordinator } from '@picompute/coordinator';
import { connect, JobFailedError } from '@picompute/sdk/client';
import type { Client } from '@picompute/sdk/client';
import { openDatabase } from '../packages/coordinator/src/state/database.js';
import { SCHEMA } from '../packages/coordinator/src/state/schema.js';
import { StateStore } from '../packages/coordinator/src/state/store.js';
import { fixture, stateDir } from './support/cli.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const mib = (bytes: number) => `${(bytes / 1048576).toFixed(1)} MiB`;

/** A state database as picompute wrote it before schema 2 (no auto-vacuum): `jobs` finished jobs of `outputs` × `kib` KiB, ended in 1970. */
function oldDatabase(dir: string, jobs: number, outputs: number, kib: number): string {
  const file = join(dir, 'picompute.db');
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.exec(SCHEMA);
  db.pragma('user_version = 1');
  const job = db.prepare(
    'INSERT INTO jobs (name, user, request, state, tasks_total, tasks_done, submitted_at, started_at, ended_at) ' +
      "VALUES ('old', 'u', '{}', 'COMPLETED', ?, ?, 1, 1, 1000)",
  );
  const out = db.prepare('INSERT INTO outputs (job_id, idx, attempts, output) VALUES (?, ?, 1, ?)');
  const bytes = Buffer.alloc(kib * 1024, 7);
  db.transaction(() => {
    for (let j = 0; j < jobs; j++) {
      const id = job.run(outputs, outputs).lastInsertRowid;
      for (let i = 0; i < outputs; i++) out.run(id, i, bytes);
    }
  })();
  db.close();
  return file;
}

describe('a state database from before schema 2, purged past --keep', () => {
  it('is switched to incremental auto-vacuum once, saying so, and the purge runs in slices and shrinks the file', async () => {
    const dir = stateDir();
    const file = oldDatabase(dir, 200, 25, 16);
    const lines: string[] = [];
    const log = (l: string) => lines.push(l);
    const bytesBefore = statSync(file).size;

    const db = openDatabase(dir, { log });
    expect(lines.join('\n')).toMatch(/switching to incremental auto-vacuum \(schema 2\), a one-time VACUUM of [\d.]+ MiB/);
    expect(db.pragma('auto_vacuum', { simple: true })).toBe(2);
    expect(db.pragma('user_version', { simple: true })).toBe(4); // and on to schemas 3 and 4, which only add tables and columns
    const store = new StateStore(db, true, log);
    const delay = monitorEventLoopDelay({ resolution: 1 });
    delay.enable();
    const started = performance.now();
    expect(store.purge(Date.now())).toBe(200);
    // Nothing is deleted before the caller's turn ends: start-up does not wait for the purge.
    expect(store.jobs()).toHaveLength(200);
    await store.reclaimer.idle();
    const purgeMs = performance.now() - started;
    delay.disable();
    expect(store.jobs()).toHaveLength(0);
    expect(store.reclaimer.slices).toBeGreaterThan(10);
    expect(db.pragma('freelist_count', { simple: true })).toBe(0);
    store.close();
    const bytesAfter = statSync(file).size;
    expect(bytesAfter).toBeLessThan(bytesBefore / 20);
    expect(lines.join('\n')).toMatch(/gave back [\d.]+ MiB of disk/);
    console.log(
      `purge of 200 jobs × 25 × 16 KiB: ${(purgeMs / 1000).toFixed(2)} s in ${store.reclaimer.slices} slices, ` +
        `longest event-loop stall ${(delay.max / 1e6).toFixed(1)} ms; file ${mib(bytesBefore)} -> ${mib(bytesAfter)}\n${lines.join('\n')}`,
    );
  });

  it('a database already at schema 2 is opened without a VACUUM', () => {
    const dir = stateDir();
    openDatabase(dir).close();
    const lines: string[] = [];
    openDatabase(dir, { log: (l) => lines.push(l) }).close();
    expect(lines).toEqual([]);
  });
});

describe('outputs nobody reads again are deleted when their job ends', () => {
  let agent: Agent;
  let coordinator: Coordinator;
  let client: Client;
  let dir: string;
  let reader: Database.Database;
  const stored = (jobId: string) => (reader.prepare('SELECT count(*) AS n FROM outputs WHERE job_id = ?').get(Number(jobId)) as { n: number }).n;
  /** Polls (hang guard only) until the job's stored outputs number `n`. */
  async function outputsBecome(jobId: string, n: number): Promise<number> {
    for (let i = 0; i < 200 && stored(jobId) !== n; i++) await sleep(50);
    return stored(jobId);
  }

  beforeAll(async () => {
    dir = stateDir();
    agent = await startAgent({ port: 0, cores: 2, log: () => {} });
    coordinator = await startCoordinator({ port: 0, stateDir: dir, agents: [agent.address], log: () => {} });
    client = await connect({ coordinator: coordinator.address, security: {} });
    reader = new Database(join(dir, 'picompute.db'), { readonly: true });
  });

  afterAll(async () => {
    reader?.close();
    client?.close();
    await coordinator?.close();
    await agent?.close();
  });

  it('a fold job keeps its result and loses its 100 map outputs', async () => {
    const job = await client.submit(fixture('slow-square.ts'), { args: { n: '100' } });
    expect(await job.result()).toBe(328350);
    expect(await outputsBecome(job.id, 0)).toBe(0);
    expect(await client.job(job.id).result()).toBe(328350);
  });

  it('a failed job keeps the outputs it made (for result --partial and requeue --failed), as a completed map job keeps its result', async () => {
    const failed = await client.submit(fixture('throws.ts'));
    await expect(failed.result()).rejects.toThrow(JobFailedError);
    await sleep(300);
    const partial = await client.job(failed.id).partialResult();
    expect(stored(failed.id)).toBe(partial.outputs.size);
    expect(partial.outputs.size).toBeGreaterThan(0);
    const kept = await client.submit(fixture('values.ts'), { args: { n: '12' } });
    expect(await kept.result()).toHaveLength(12);
    await sleep(300);
    expect(stored(kept.id)).toBe(12);
  });
});

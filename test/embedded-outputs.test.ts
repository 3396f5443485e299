/**
 * The embedded cluster keeps map outputs in memory, not in its state
 * database: what a client reads is the same. A result too big to ride on
 * the job's last event (over 4,096 outputs) comes in GetResult pages, twice
 * alike; a job that failed still gives what finished (`result --partial`).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@picompute/sdk/client';
import { fixture, useLocalClient } from './support/cli.js';

describe('embedded cluster: map outputs in memory', () => {
  const local = useLocalClient();
  let client: Client;
  beforeAll(() => {
    client = local.client;
  });

  it('a 5,000-output result is exact, in input order, and the same when read again by id', async () => {
    const job = await client.submit(fixture('tiny-tasks.ts'), { args: { n: '5000' } });
    const expected = Array.from({ length: 5000 }, (_, i) => i % 7);
    expect(await job.result()).toEqual(expected);
    expect(await client.job(job.id).result()).toEqual(expected);
  });

  it("a failed job's partial result has the outputs of the tasks that finished", async () => {
    const job = await client.submit(fixture('throws.ts'));
    await expect(job.result()).rejects.toThrow(/bad value 3/);
    const partial = await client.job(job.id).partialResult();
    expect(partial.state).toBe('FAILED');
    expect(partial.missing).toContain(2);
    expect(partial.outputs.size + partial.missing.length).toBe(4);
    for (const [index, value] of partial.outputs) expect(value).toBe(index + 1);
  });
});

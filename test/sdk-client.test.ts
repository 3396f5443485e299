/**
 * The SDK client against a real coordinator and agent (in this process, real
 * gRPC on loopback, real worker threads).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { connect, ConnectError, JobFailedError } from '@picompute/sdk/client';
import type { Client } from '@picompute/sdk/client';

import { fixture, useLocalClient } from './support/cli.js';

describe('SDK client', () => {
  const local = useLocalClient();
  let client: Client;
  beforeAll(() => {
    client = local.client;
  });

  it('submits, streams progress events and returns the folded result', async () => {
    const job = await client.submit(fixture('slow-square.ts'), { args: { n: '6' } });
    const events = [];
    for await (const ev of job.events()) events.push(ev);
    expect(events.at(-1)).toMatchObject({ state: 'COMPLETED', tasksDone: 6, tasksTotal: 6 });
    expect(events.some((e) => e.state === 'RUNNING' || e.state === 'PENDING')).toBe(true);
    expect(await job.result()).toBe(0 + 1 + 4 + 9 + 16 + 25);
  });

  it('the submit stream names the job and carries its events; a second watcher gets its own stream to the same end', async () => {
    const job = await client.submit(fixture('slow-square.ts'), { args: { n: '4' } });
    expect(job.id).toMatch(/^\d+$/);
    const [first, second] = await Promise.all([collect(job.events()), collect(client.job(job.id).events())]);
    for (const events of [first, second]) {
      expect(events.every((e) => e.jobId === job.id)).toBe(true);
      expect(events.at(-1)).toMatchObject({ state: 'COMPLETED', tasksDone: 4 });
    }
    // The submit stream was used up by the first call; this one opens a Watch on the ended job.
    expect((await collect(job.events())).map((e) => e.state)).toEqual(['COMPLETED']);
  });

  it('inputs too big to ride in the submit (2.4 MiB, each under 64 KiB: not chunks) reach the tasks intact', async () => {
    const { block, sum } = await import('./fixtures/checksums.js');
    const job = await client.submit(fixture('checksums.ts'), { args: { n: '40', kib: '60' } });
    expect(await job.result()).toEqual(Array.from({ length: 40 }, (_, i) => sum(block(i, 60))));
  });

  it('returns map outputs in input order with exact values', async () => {
    const job = await client.submit(fixture('values.ts'), { args: { n: '20' } });
    const result = await job.result<{ i: number; big: bigint; counts: Map<string, number>; raw: Buffer }[]>();
    expect(result.map((r) => r.i)).toEqual(Array.from({ length: 20 }, (_, i) => 2 * i));
    expect(result[7]!.big).toBe(7n * 10n ** 20n + 1n);
    expect(result[7]!.counts).toEqual(new Map([['k7', 7]]));
    expect(Buffer.isBuffer(result[7]!.raw)).toBe(true);
  });

  it('runs a fold over a Map accumulator in input order', async () => {
    const job = await client.submit(fixture('word-lengths.ts'));
    expect(await job.result()).toEqual({ a: 12, b: 15, c: 6 });
  });

  it('folds large jobs in groups and keeps input order (a fold that does not commute)', async () => {
    for (const n of [7, 100, 1000]) {
      const job = await client.submit(fixture('concat.ts'), { args: { n: String(n) } });
      expect(await job.result()).toBe(Array.from({ length: n }, (_, i) => i).join(','));
    }
  });

  it('result() throws JobFailedError with the task failure', async () => {
    const job = await client.submit(fixture('throws.ts'));
    const err = await job.result().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JobFailedError);
    expect((err as JobFailedError).event.state).toBe('FAILED');
    expect((err as Error).message).toMatch(/task 2 failed on local \(attempt 1\)\n {2}input: \{ n: 3 \}\n {2}Error: bad value 3/);
  });

  it('an empty input list completes with the fold initial value or an empty array', async () => {
    const job = await client.submit(fixture('slow-square.ts'), { args: { n: '0' } });
    expect(await job.result()).toBe(0);
    const collect = await client.submit(fixture('values.ts'), { args: { n: '0' } });
    expect(await collect.result()).toEqual([]);
  });

  it('cancel stops a running job', async () => {
    const job = await client.submit(fixture('slow-square.ts'), { args: { n: '200' } });
    expect(await job.cancel()).toBe('CANCELLED');
    const final = await job.done();
    expect(final.state).toBe('CANCELLED');
    await expect(job.result()).rejects.toThrow('cancelled by the user');
  });

  it('unknown job ids get a clear error', async () => {
    await expect(client.job('999').result()).rejects.toThrow('no job with id 999');
  });

  it('lists nodes and jobs', async () => {
    const nodes = await client.nodes();
    expect(nodes).toHaveLength(1);
    expect(nodes[0]).toMatchObject({ state: 'idle', info: { id: 'local', cores: 2 } });
    // Its own two jobs, so the listing does not depend on what earlier tests left behind.
    const good = await client.submit(fixture('word-lengths.ts'));
    await good.done();
    const bad = await client.submit(fixture('throws.ts'));
    await bad.done();
    const { jobs, shares } = await client.jobs();
    expect(jobs.find((j) => j.jobId === good.id)).toMatchObject({ state: 'COMPLETED' });
    expect(jobs.find((j) => j.jobId === bad.id)).toMatchObject({ state: 'FAILED', error: expect.stringContaining('bad value 3') });
    expect(shares).toEqual([]);
  });

  it('connect fails fast with a clear message when nothing answers', async () => {
    const started = Date.now();
    const err = await connect({ coordinator: '127.0.0.1:1', connectTimeoutMs: 1000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as Error).message).toContain('cannot reach a picompute coordinator at 127.0.0.1:1 within 1s');
    expect(Date.now() - started).toBeLessThan(5000);
  });
});

describe('a coordinator started afresh under a client', () => {
  it('gets the job bundle again instead of failing the submit', async () => {
    const { startCoordinator } = await import('@picompute/coordinator');
    const { startAgent } = await import('@picompute/agent');
    const { generateKey } = await import('@picompute/sdk/auth');
    const { stateDir } = await import('./support/cli.js');
    const security = { key: generateKey() };
    const agent = await startAgent({ security, cores: 1, log: () => {}, cacheDir: stateDir() });
    let coordinator = await startCoordinator({ security, log: () => {}, stateDir: stateDir(), agents: [agent.address] });
    const port = Number(coordinator.address.split(':').pop());
    const client = await connect({ coordinator: coordinator.address, security });
    try {
      expect(await (await client.submit(fixture('word-lengths.ts'))).result()).toEqual({ a: 12, b: 15, c: 6 });
      await coordinator.close();
      coordinator = await startCoordinator({ security, log: () => {}, stateDir: stateDir(), port, agents: [agent.address] });
      expect(await (await client.submit(fixture('word-lengths.ts'))).result()).toEqual({ a: 12, b: 15, c: 6 });
    } finally {
      client.close();
      await coordinator.close();
      await agent.close();
    }
  });
});

describe('a submit naming a bundle the coordinator lacks', () => {
  it('is refused with FAILED_PRECONDITION and the hash in the picompute-missing-blob trailer, not in text to match', async () => {
    const grpc = await import('@grpc/grpc-js');
    const { startCoordinator } = await import('@picompute/coordinator');
    const { missingBlobOf, wireServices } = await import('@picompute/sdk/wire');
    const { stateDir } = await import('./support/cli.js');
    const coordinator = await startCoordinator({ log: () => {}, stateDir: stateDir() });
    const stub = new (wireServices().CoordinatorService)(coordinator.address, grpc.credentials.createInsecure()) as unknown as grpc.Client & {
      submit(req: object, cb: (err: grpc.ServiceError | null) => void): void;
    };
    try {
      const hash = 'ab'.repeat(32);
      const err = await new Promise<grpc.ServiceError | null>((resolve) =>
        stub.submit({ name: 'x', bundleHash: hash, taskCount: 1, inputs: Buffer.alloc(0) }, resolve),
      );
      expect(err?.code).toBe(grpc.status.FAILED_PRECONDITION);
      expect(err?.metadata.get('picompute-missing-blob')).toEqual([hash]);
      expect(missingBlobOf(err!)).toBe(hash);
    } finally {
      stub.close();
      await coordinator.close();
    }
  });
});

async function collect<T>(events: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const ev of events) out.push(ev);
  return out;
}

/**
 * The embedded cluster reads a keyed job's parts in process (the agent's
 * part file straight to the coordinator's relay, and the relay straight to
 * the client made by `connect()`), not through two gRPC hops: the bytes must
 * be the very ones a client over gRPC reads, a part gone from the agent's
 * disk must fail with the same message and code, and a read given up half
 * way must leave the cluster serving.
 */
import { readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLocalCluster } from '@picompute/cli';
import type { LocalCluster } from '@picompute/cli';
import { RpcError, connect } from '@picompute/sdk/client';
import type { Client } from '@picompute/sdk/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const SORT_EXAMPLE = new URL('../examples/sort-records.ts', import.meta.url).pathname;

async function allText(client: Client, jobId: string): Promise<string[]> {
  const job = client.job(jobId);
  const parts: string[] = [];
  for await (const part of job.parts()) {
    const chunks: Buffer[] = [];
    for await (const text of part.text(String)) chunks.push(text);
    parts.push(Buffer.concat(chunks).toString('latin1'));
  }
  return parts;
}

/** Where the embedded agent keeps a job's part files (its cache folder is a fresh one under the temporary folder). */
async function partFiles(jobId: string): Promise<string[]> {
  const found: string[] = [];
  for (const local of (await readdir(tmpdir())).filter((n) => n.startsWith('picompute-local-'))) {
    const shuffle = join(tmpdir(), local, 'bundles', 'shuffle');
    for (const node of await readdir(shuffle).catch(() => [])) {
      const dir = join(shuffle, node, jobId);
      for (const name of await readdir(dir).catch(() => [] as string[])) if (name.startsWith('part-')) found.push(join(dir, name));
    }
  }
  return found;
}

describe('parts of a keyed job on the embedded cluster', () => {
  let cluster: LocalCluster;
  let inProcess: Client;
  let overGrpc: Client;

  beforeAll(async () => {
    cluster = await startLocalCluster({ cores: 2 });
    inProcess = await cluster.connect();
    overGrpc = await connect({ coordinator: cluster.address, security: cluster.security });
  });
  afterAll(async () => {
    overGrpc?.close();
    await cluster?.close();
  });

  it('read in process are byte for byte what a client over gRPC reads, early or after the job', async () => {
    const job = await inProcess.submit(SORT_EXAMPLE, { args: { chunks: '3' }, partitions: 4 });
    const early: string[] = [];
    for await (const part of job.parts({ early: true })) {
      const chunks: Buffer[] = [];
      for await (const text of part.text(String)) chunks.push(text);
      early.push(Buffer.concat(chunks).toString('latin1'));
    }
    const remote = await allText(overGrpc, job.id);
    expect(early).toHaveLength(4);
    expect(early.join('').split('\n').filter(Boolean)).toHaveLength(30_000);
    expect(early).toEqual(remote);
    expect(await allText(inProcess, job.id)).toEqual(remote);
  });

  it('a part gone from the agent says so as over gRPC (NOT_FOUND, the same words), and the cluster serves on', async () => {
    const job = await inProcess.submit(SORT_EXAMPLE, { args: { chunks: '1' }, partitions: 2 });
    await job.done();
    const files = await partFiles(job.id);
    expect(files).toHaveLength(2);
    for (const f of files) await rm(f);
    const failures = await Promise.all(
      [inProcess, overGrpc].map((client) =>
        allText(client, job.id).then(
          () => undefined,
          (err: unknown) => err,
        ),
      ),
    );
    for (const err of failures) {
      expect(err).toBeInstanceOf(RpcError);
      expect((err as RpcError).code).toBe(5); // NOT_FOUND
    }
    const [local, remote] = failures as RpcError[];
    expect(local!.message).toMatch(new RegExp(`^part 0 of job ${job.id} \\(\\d+ bytes on local at \\S+\\) cannot be read: that agent no longer has it\\. `));
    expect(local!.message).toBe(remote!.message);

    const again = await inProcess.submit(SORT_EXAMPLE, { args: { chunks: '1' }, partitions: 2 });
    expect((await allText(inProcess, again.id)).join('').split('\n').filter(Boolean)).toHaveLength(10_000);
  });

  it('a part read only in part (the reader stopped after one chunk) leaves the cluster serving, and the part readable again', async () => {
    const job = await inProcess.submit(SORT_EXAMPLE, { args: { chunks: '4' }, partitions: 1 });
    await job.done();
    for await (const part of inProcess.job(job.id).parts()) {
      for await (const text of part.text(String)) {
        expect(text.length).toBeGreaterThan(0);
        break;
      }
    }
    const whole = await allText(inProcess, job.id);
    expect(whole.join('').split('\n').filter(Boolean)).toHaveLength(40_000);
    expect(whole).toEqual(await allText(overGrpc, job.id));
  });
});

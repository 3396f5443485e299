/**
 * ListRuns, which a restarted coordinator asks of each agent that comes
 * back: the runs of a job the agent holds whole (not one still being
 * written, not the runs a reducer fetched), authenticated as every other
 * RPC (mutual TLS from the cluster key and the per-call proof), and only
 * inside its own runs folder. A real agent in-process (startAgent) over real gRPC.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent } from '@picompute/agent';
import type { Agent } from '@picompute/agent';
import { channelCredentials, clientChannelOptions, generateKey } from '@picompute/sdk/auth';
import type { Security } from '@picompute/sdk/auth';
import { wireServices } from '@picompute/sdk/wire';
import type { ListRunsReply } from '@picompute/sdk/wire';
import { stateDir } from './support/cli.js';

type ListStub = grpc.Client & {
  listRuns(req: { jobId: string }, options: grpc.CallOptions, cb: (err: grpc.ServiceError | null, reply: ListRunsReply) => void): void;
};

function listRuns(address: string, security: Security, jobId: string, withProof = true): Promise<{ code: number; details: string; runIds: string[] }> {
  const { AgentService } = wireServices();
  const options = clientChannelOptions(security);
  // Without the interceptors, the call carries no per-call proof of the key (the TLS session alone is not enough).
  if (!withProof) options.interceptors = [];
  const stub = new AgentService(address, channelCredentials(security), options) as unknown as ListStub;
  return new Promise((resolve) =>
    stub.listRuns({ jobId }, { deadline: Date.now() + 5000 }, (err, reply) => {
      stub.close();
      resolve(err ? { code: err.code, details: err.details, runIds: [] } : { code: grpc.status.OK, details: '', runIds: reply.runIds });
    }),
  );
}

describe('ListRuns, what an agent still holds for a restarted coordinator', () => {
  const key = generateKey();
  const cacheDir = stateDir();
  let agent: Agent;
  beforeAll(async () => {
    agent = await startAgent({ security: { key }, cores: 1, cacheDir, log: () => {} });
  });
  afterAll(() => agent?.close());

  it('lists the whole runs of a job, not one being written nor what a reducer fetched; a job with none has an empty list', async () => {
    const jobDir = join(cacheDir, 'shuffle', agent.info.id, '12');
    await mkdir(join(jobDir, 'fetched-0-1'), { recursive: true });
    for (const f of ['m0-a1-s0-p0', 'm0-a1-s0-p1', 'm1-a2-s0-p0.tmp', 'fetched-0-1/0-m3-a1-s0-p0']) await writeFile(join(jobDir, f), 'run');
    const r = await listRuns(agent.address, { key }, '12');
    expect(r.code).toBe(grpc.status.OK);
    expect(r.runIds.sort()).toEqual(['m0-a1-s0-p0', 'm0-a1-s0-p1']);
    expect(await listRuns(agent.address, { key }, '13')).toMatchObject({ code: grpc.status.OK, runIds: [] });
  });

  it('a job id that would leave the runs folder is refused', async () => {
    for (const jobId of ['..', '../..', '.hidden', 'a/b']) {
      const r = await listRuns(agent.address, { key }, jobId);
      expect(r.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(r.details).toMatch(/is not a name this agent gave out/);
    }
  });

  it('without the cluster key nothing is answered; with its TLS but no per-call proof, refused as unauthenticated', async () => {
    for (const security of [{}, { key: generateKey() }]) expect((await listRuns(agent.address, security, '12')).code).toBe(grpc.status.UNAVAILABLE);
    expect((await listRuns(agent.address, { key }, '12', false)).code).toBe(grpc.status.UNAUTHENTICATED);
  });
});

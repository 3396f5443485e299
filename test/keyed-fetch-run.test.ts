/**
 * The agent-to-agent FetchRun RPC a reducer uses to pull a run from its
 * mapper: authenticated as every other RPC is (mutual TLS from the cluster
 * key and the per-call proof), and it hands out only files of its own runs
 * folder. A real agent in-process (startAgent) over real gRPC.
 */
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent } from '@picompute/agent';
import type { Agent } from '@picompute/agent';
import { channelCredentials, clientChannelOptions, generateKey } from '@picompute/sdk/auth';
import type { Security } from '@picompute/sdk/auth';
import { wireServices } from '@picompute/sdk/wire';
import type { BlobChunk } from '@picompute/sdk/wire';
import { stateDir } from './support/cli.js';

type FetchStub = grpc.Client & { fetchRun(req: { jobId: string; runId: string }, options?: grpc.CallOptions): grpc.ClientReadableStream<BlobChunk> };

function fetchRun(address: string, security: Security, jobId: string, runId: string, withProof = true): Promise<{ code: number; details: string }> {
  const { AgentService } = wireServices();
  const options = clientChannelOptions(security);
  // Without the interceptors, the call carries no per-call proof of the key (the TLS session alone is not enough).
  if (!withProof) options.interceptors = [];
  const stub = new AgentService(address, channelCredentials(security), options) as unknown as FetchStub;
  return new Promise((resolve) => {
    const call = stub.fetchRun({ jobId, runId }, { deadline: Date.now() + 5000 });
    call.on('data', () => {});
    call.on('error', (err: grpc.ServiceError) => {
      stub.close();
      resolve({ code: err.code, details: err.details });
    });
    call.on('end', () => {
      stub.close();
      resolve({ code: grpc.status.OK, details: '' });
    });
  });
}

describe('FetchRun, the shuffle between agents', () => {
  const key = generateKey();
  let agent: Agent;
  beforeAll(async () => {
    agent = await startAgent({ security: { key }, cores: 1, cacheDir: stateDir(), log: () => {} });
  });
  afterAll(() => agent?.close());

  it('with the cluster key: a run that is not there is NOT_FOUND, named', async () => {
    const r = await fetchRun(agent.address, { key }, '7', 'm0-a1-s0-p0');
    expect(r.code).toBe(grpc.status.NOT_FOUND);
    expect(r.details).toContain('run m0-a1-s0-p0 of job 7');
  });

  it('names that would leave the runs folder are refused', async () => {
    for (const [jobId, runId] of [
      ['7', '../../node-id'],
      ['..', 'x'],
      ['7', '.hidden'],
      ['7', 'a/b'],
    ] as const) {
      const r = await fetchRun(agent.address, { key }, jobId, runId);
      expect(r.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(r.details).toMatch(/is not a name this agent gave out/);
    }
  });

  it('without the cluster key nothing is answered: no TLS session, no call', async () => {
    for (const security of [{}, { key: generateKey() }]) {
      const r = await fetchRun(agent.address, security, '7', 'm0-a1-s0-p0');
      expect(r.code).toBe(grpc.status.UNAVAILABLE);
    }
  });

  it("with the key's TLS but no per-call proof: refused as unauthenticated", async () => {
    const r = await fetchRun(agent.address, { key }, '7', 'm0-a1-s0-p0', false);
    expect(r.code).toBe(grpc.status.UNAUTHENTICATED);
  });
});

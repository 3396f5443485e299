/**
 * The agent's side of a backup's race: CancelTasks names runs that lost to
 * their twin. A real agent in-process (one core) over real gRPC, driven by
 * this test as its coordinator: a 30 s task named in CancelTasks is stopped
 * (no result for it ever comes, the agent says so) and its core is free at
 * once: a task sent next finishes in moments, not after 30 s. A batch with
 * a task still wanted runs on, and the unwanted one's result is the
 * coordinator's to ignore.
 */
import type * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent } from '@picompute/agent';
import type { Agent } from '@picompute/agent';
import { channelCredentials, clientChannelOptions, generateKey } from '@picompute/sdk/auth';
import { prepareJob } from '@picompute/sdk/client';
import { encode } from '@picompute/sdk/codec';
import { wireServices } from '@picompute/sdk/wire';
import type { FromAgent, TaskResult } from '@picompute/sdk/wire';
import { fixture, stateDir } from './support/cli.js';
import { until } from './support/until.js';

type WorkStub = grpc.Client & { work(): grpc.ClientDuplexStream<object, FromAgent> };

describe('CancelTasks: a backup race lost on this agent', () => {
  const key = generateKey();
  const lines: string[] = [];
  let agent: Agent;
  let stub: WorkStub;
  let call: grpc.ClientDuplexStream<object, FromAgent>;
  const results: TaskResult[] = [];

  beforeAll(async () => {
    agent = await startAgent({ security: { key }, cores: 1, cacheDir: stateDir(), speedProbeMs: 0, log: (l) => lines.push(l) });
    const { bundle, bundleHash } = await prepareJob(fixture('busy.ts'));
    const { AgentService } = wireServices();
    stub = new AgentService(agent.address, channelCredentials({ key }), clientChannelOptions({ key })) as unknown as WorkStub;
    call = stub.work();
    call.on('data', (m: FromAgent) => {
      if (m.msg === 'results') results.push(...m.results.results);
      if (m.msg === 'needBundle') call.write({ bundle: { hash: bundleHash, data: bundle, last: true } });
    });
    call.on('error', () => {});
    const spec = (jobId: string, ms: number) => ({ jobId, bundleHash, timeLimitMs: 0, memoryMb: 0, args: { ms: String(ms) }, coresPerTask: 1 });
    send = (jobId, ms, indices) =>
      call.write({ assign: { job: spec(jobId, ms), tasks: indices.map((index) => ({ index, attempt: 1, kind: 'MAP', input: encode(index), values: [] })) } });
  });
  let send: (jobId: string, ms: number, indices: number[]) => void;

  afterAll(async () => {
    call?.cancel();
    stub?.close();
    await agent?.close();
  });

  it('a lone task named is stopped at once: no result for it, the agent says so, and its core takes the next task', async () => {
    send('1', 30_000, [0]);
    // Under way (its code fetched, its worker busy): stopped whether it runs or still waits for its code.
    await new Promise((r) => setTimeout(r, 1500));
    call.write({ cancelTasks: { jobId: '1', tasks: [{ index: 0, attempt: 1 }] } });
    await until('the agent stopped it', async () => lines.find((l) => l.startsWith('job 1: stopped task 0 attempt 1')), 5000);
    send('2', 50, [7]);
    // One core: had the 30 s task run on, this one would wait for it.
    const next = await until('the next task ran', async () => results.find((r) => r.jobId === '2'), 10_000);
    expect(next).toMatchObject({ index: 7, ok: true });
    expect(results.filter((r) => r.jobId === '1')).toEqual([]);
    expect(lines).toContain('job 1: stopped task 0 attempt 1: another copy of it finished first on another node; its core is free');
  });

  it('a batch with a task still wanted runs on; the agent says the unwanted one ends with it', async () => {
    send('3', 300, [0, 1]);
    call.write({ cancelTasks: { jobId: '3', tasks: [{ index: 0, attempt: 1 }] } });
    const done = await until('the batch ran', async () => (results.filter((r) => r.jobId === '3').length === 2 ? true : undefined), 10_000);
    expect(done).toBe(true);
    expect(lines).toContain('job 3: task 0 attempt 1 is no longer wanted (another copy finished first); it ends with its batch, its result ignored');
  });
});

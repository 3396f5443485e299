/**
 * A coordinator's own upload limits refuse in their own words: an input
 * over `maxBlobBytes` cancels its job with the limit and what to do (not
 * gRPC's "message over its size limit", which shares the status code), and
 * the coordinator serves the next job.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent } from '@picompute/agent';
import { startCoordinator } from '@picompute/coordinator';
import type { Coordinator } from '@picompute/coordinator';
import { generateKey } from '@picompute/sdk/auth';
import { connect } from '@picompute/sdk/client';
import type { Client } from '@picompute/sdk/client';
import { fixture, stateDir } from './support/cli.js';

const quiet = () => {};

describe("a coordinator's upload limit", () => {
  const key = generateKey();
  let coordinator: Coordinator;
  let agentClose: () => Promise<void>;
  let client: Client;

  beforeAll(async () => {
    coordinator = await startCoordinator({ security: { key }, log: quiet, stateDir: stateDir(), maxBlobBytes: 100_000 });
    const agent = await startAgent({ security: { key }, cores: 1, log: quiet, cacheDir: await mkdtemp(join(tmpdir(), 'picompute-limits-')) });
    agentClose = agent.close;
    coordinator.addAgent(agent.address);
    client = await connect({ coordinator: coordinator.address, security: { key } });
  });
  afterAll(async () => {
    client?.close();
    await coordinator?.close();
    await agentClose?.();
  });

  it('cancels a job whose input is over maxBlobBytes, naming the limit and what to do, and serves the next job', async () => {
    // One value of 300 KiB: it goes up on its own after the submit, and is refused there.
    const job = await client.submit(fixture('big-values.ts'), { args: { n: '1', kib: '300' } });
    const failure = await job.result().then(
      () => undefined,
      (err: Error) => err.message,
    );
    expect(failure).toContain(
      "upload is larger than this coordinator's limit of 100000 bytes: send smaller inputs, or start the coordinator with a larger `maxBlobBytes`",
    );
    expect(failure).not.toContain('size limit');
    expect((await job.done()).state).toBe('CANCELLED');
    const next = await client.submit(fixture('big-values.ts'), { args: { n: '2', kib: '1' } });
    expect(await next.result()).toEqual([0, 'value 0: 1024', 1, 'value 1: 1024']);
  });
});

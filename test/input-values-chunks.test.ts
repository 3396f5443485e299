/**
 * Values of inputs(args) that encode to 64 KiB or more go to a coordinator
 * as chunks behind the submit, as file inputs do: the job starts while they
 * still go up, each map gets its value exactly, a second submit of the same
 * values sends none, and a map that throws shows its value. Real daemons on
 * loopback.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSecurity } from '@picompute/sdk/auth';
import { connect, JobFailedError } from '@picompute/sdk/client';
import type { Client, UploadProgress } from '@picompute/sdk/client';
import { fixture, KEY_FILE, startDaemon, stateDir, loopback } from './support/cli.js';
import type { Daemon } from './support/cli.js';
import { until } from './support/until.js';

/** What big-values.ts gives back for `n` strings of `kib` KiB. */
const expected = (n: number, kib: number) => Array.from({ length: n }, (_, i) => [i, `value ${i}: ${kib * 1024}`]).flat();

describe('big inputs(args) values streamed as chunks to real daemons', () => {
  const state = stateDir();
  let agent: Daemon;
  let coordinator: Daemon;
  let client: Client;

  beforeAll(async () => {
    agent = await startDaemon(['agent', '--port', '0', '--cores', '2']);
    coordinator = await startDaemon(['coordinator', '--port', '0', '--state-dir', state, '--agent', loopback(agent)]);
    await coordinator.waitFor(/agent \S+ up at/);
    client = await connect({ coordinator: loopback(coordinator), security: await loadSecurity({ keyFile: KEY_FILE }) });
  }, 60_000);

  afterAll(async () => {
    client?.close();
    await Promise.all([coordinator?.stop('SIGKILL'), agent?.stop('SIGKILL')]);
  });

  it('starts the first map while the other values still go up, and each map gets its value exactly', async () => {
    const markers = mkdtempSync(join(tmpdir(), 'picompute-values-'));
    let whenFirstMapRan: UploadProgress | undefined;
    const job = await client.submit(fixture('big-values.ts'), {
      args: { n: '10', kib: '300', markers },
      // The upload waits after its first chunk until a map of a big value has run: that map had only its own chunk.
      onUpload: async (progress, next) => {
        if (progress.chunksSent < 1 || !next || whenFirstMapRan) return;
        await until('a map of a big value to start', async () => existsSync(join(markers, 'started')) || undefined);
        whenFirstMapRan = { ...progress };
      },
    });
    expect(await job.result()).toEqual(expected(10, 300));
    expect(whenFirstMapRan).toMatchObject({ chunks: 10, done: false });
    // Two chunks go at once: when the first map ran, at most those two had been sent.
    expect(whenFirstMapRan!.chunksSent).toBeLessThanOrEqual(2);
    await job.uploaded;
    expect(job.upload).toMatchObject({ chunks: 10, chunksSent: 10, chunksSkipped: 0 });
    // The values are in the coordinator's chunk store, named by hash; the small numbers rode inside the job.
    expect(readdirSync(join(state, 'chunks')).filter((f) => /^[0-9a-f]{64}$/.test(f))).toHaveLength(10);
    expect(readFileSync(join(markers, 'started'), 'utf8').trim().split('\n').sort()).toEqual(Array.from({ length: 10 }, (_, i) => `value ${i}`).sort());
  }, 60_000);

  it('sends none of them again when the same values are submitted again', async () => {
    const job = await client.submit(fixture('big-values.ts'), { args: { n: '10', kib: '300' } });
    expect(await job.result()).toEqual(expected(10, 300));
    await job.uploaded;
    expect(job.upload).toMatchObject({ chunks: 10, chunksSkipped: 10, chunksSent: 0, bytesSent: 0 });
  }, 60_000);

  it('a map of a big value that throws names the value in its error', async () => {
    const job = await client.submit(fixture('big-values.ts'), { args: { n: '4', kib: '100', throwAt: '2' } });
    const err = await job.result().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JobFailedError);
    expect(String((err as Error).message)).toMatch(/value 2 is the one that throws/);
    // The value itself, as any input is shown, not the reference it travelled as.
    expect(String((err as Error).message)).toContain("input: 'value 2\\nabcdefghijklmnopqrstuvwxyz\\nabcdefghijklmnopqrstuvwxy'... 102340 more characters");
  }, 60_000);
});

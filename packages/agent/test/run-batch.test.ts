/**
 * runBatch on a real piscina pool with real worker threads and a real job
 * bundle: a cancel must stop the job's tasks whenever it arrives.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleJob, writeBundleFile } from '@picompute/sdk/bundle';
import { encode } from '@picompute/sdk/codec';
import { TaskPools } from '../src/pool.js';
import { runBatch } from '../src/run-batch.js';
import type { BatchRequest } from '../src/run-batch.js';

const BUSY = fileURLToPath(new URL('../../../test/fixtures/busy.ts', import.meta.url));

describe('runBatch and cancel', () => {
  let pools: TaskPools;
  let bundlePath: string;
  let bundleHash: string;
  beforeAll(async () => {
    const bundle = await bundleJob(BUSY);
    bundleHash = bundle.hash;
    bundlePath = await writeBundleFile(bundle.code, bundle.hash, await mkdtemp(join(tmpdir(), 'picompute-rb-')));
    pools = new TaskPools({ threads: 1, memoryMb: 256 });
  });
  afterAll(async () => {
    await pools?.close();
  });

  const request = (jobId: string, ms: number, signal: AbortSignal): BatchRequest => ({
    job: { jobId, bundleHash, timeLimitMs: 0, memoryMb: 0, args: { ms: String(ms) }, coresPerTask: 1 },
    bundlePath,
    kind: 'MAP',
    tasks: [{ index: 0, attempt: 1, input: encode(0), values: [] }],
    signal,
  });

  // The agent fetches the job's code before it runs the batch; a cancel that comes meanwhile has already fired.
  it('a batch whose job was cancelled before it reached the pool never runs, and its core is free for the next job', async () => {
    const cancelled = new AbortController();
    cancelled.abort(new Error('job cancelled'));
    // Ten minutes of spinning if it ran: the test's own timeout is the hang guard.
    expect(await runBatch(pools, request('1', 600_000, cancelled.signal))).toEqual([]);
    expect(pools.busy).toBe(0);
    const next = await runBatch(pools, request('2', 1, new AbortController().signal));
    expect(next).toMatchObject([{ index: 0, ok: true }]);
  }, 30_000);

  it('a cancel while the task runs stops its worker', async () => {
    const job = new AbortController();
    const running = runBatch(pools, request('3', 600_000, job.signal));
    await new Promise((r) => setTimeout(r, 300));
    expect(pools.busy).toBe(1);
    job.abort(new Error('job cancelled'));
    expect(await running).toEqual([]);
    const next = await runBatch(pools, request('4', 1, new AbortController().signal));
    expect(next).toMatchObject([{ index: 0, ok: true }]);
  }, 30_000);
});

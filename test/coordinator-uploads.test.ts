/**
 * Uploads nobody submits (a client that died between PutBlob and Submit)
 * wait on the coordinator's disk, not in its memory: files under the state
 * dir, mode 0600, counted against a per-user quota whose refusal names the
 * quota, the size and the flag. The daemon carries on serving jobs.
 */
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSecurity } from '@picompute/sdk/auth';
import { CoordinatorRpc } from '../packages/sdk/src/client/rpc.js';
import { fixture, KEY_FILE, runCli, startDaemon, stateDir, loopback } from './support/cli.js';
import type { Daemon } from './support/cli.js';

const MiB = 1024 * 1024;
const rssMiB = (pid: number) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
const uploadName = () => `upload:${randomBytes(16).toString('hex')}`;
/** `mib` MiB in 4 MiB chunks, as the SDK sends packed inputs. */
const chunks = (mib: number) => Array.from({ length: mib / 4 }, (_, i) => Buffer.alloc(4 * MiB, i + 1));

describe('uploads waiting for their submit', () => {
  const state = stateDir();
  let agent: Daemon;
  let coordinator: Daemon;
  let rpc: CoordinatorRpc;

  beforeAll(async () => {
    agent = await startDaemon(['agent', '--port', '0', '--cores', '1']);
    coordinator = await startDaemon(['coordinator', '--port', '0', '--state-dir', state, '--agent', loopback(agent), '--upload-quota', '200M']);
    await coordinator.waitFor(/agent \S+ up at/);
    rpc = new CoordinatorRpc(loopback(coordinator), await loadSecurity({ keyFile: KEY_FILE }));
    await rpc.ready(10_000);
  });

  afterAll(async () => {
    rpc?.close();
    await Promise.all([coordinator?.stop('SIGKILL'), agent?.stop('SIGKILL')]);
  });

  it('two abandoned 96 MiB uploads sit in 0600 files under the state dir, not in the coordinator’s memory', async () => {
    const before = rssMiB(coordinator.proc.pid!);
    for (const _ of [0, 1]) await rpc.putBlob(uploadName(), chunks(96), 'alice');
    const dir = join(state, 'uploads');
    const files = readdirSync(dir).map((f) => statSync(join(dir, f)));
    expect(files.map((f) => [f.size, f.mode & 0o777])).toEqual([
      [96 * MiB, 0o600],
      [96 * MiB, 0o600],
    ]);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    const grew = rssMiB(coordinator.proc.pid!) - before;
    console.log(`coordinator RSS ${before.toFixed(0)} MiB before, +${grew.toFixed(0)} MiB after two 96 MiB uploads`);
    // Held in memory, the two would add at least 192 MiB; what grows is gRPC's and the file stream's passing buffers.
    expect(grew).toBeLessThan(96);
  });

  it('refuses an upload that takes a user past --upload-quota, naming the quota and the size; others still upload', async () => {
    await expect(rpc.putBlob(uploadName(), chunks(12), 'alice')).rejects.toThrow(
      'uploads from user "alice" waiting for their submit would hold 204 MiB, over this coordinator\'s per-user upload quota of 200 MiB ' +
        '(coordinator `uploadQuotaBytes`); submit or stop the earlier ones',
    );
    // The refused upload left no file and no share of the quota behind.
    expect(readdirSync(join(state, 'uploads'))).toHaveLength(2);
    await expect(rpc.putBlob(uploadName(), chunks(8), 'alice')).resolves.toMatchObject({ size: 8 * MiB });
    await expect(rpc.putBlob(uploadName(), chunks(40), 'bob')).resolves.toMatchObject({ size: 40 * MiB });
  });

  it('still runs jobs whose inputs are uploaded, and the upload’s file is gone once submitted', async () => {
    const before = readdirSync(join(state, 'uploads')).length;
    const r = await runCli(['submit', fixture('checksums.ts'), '--json', '--arg', 'n=40', '--arg', 'kib=60', '--coordinator', loopback(coordinator)]);
    const { block, sum } = await import('./fixtures/checksums.js');
    expect(JSON.parse(r.stdout).result).toEqual(Array.from({ length: 40 }, (_, i) => sum(block(i, 60))));
    expect(readdirSync(join(state, 'uploads'))).toHaveLength(before);
  });
});

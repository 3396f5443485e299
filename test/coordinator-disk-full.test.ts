/**
 * A coordinator whose --state-dir fills up (a 20 MB tmpfs, mounted by the
 * test as root) keeps running: it fails only the job whose outputs do not
 * fit, says why, refuses new submits while the disk is full, accepts them
 * again once space returns, and starts again on the same state.
 */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { fixture, runCli, startDaemon, loopback } from './support/cli.js';
import type { Daemon } from './support/cli.js';
import { canMount, diskUse, fillDisk, mountTmpfs } from './support/tmpfs.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!canMount)('a coordinator whose disk fills up', () => {
  let disk: ReturnType<typeof mountTmpfs>;
  let agent: Daemon;
  let coordinator: Daemon;
  const cli = (args: string[]) => runCli([...args, '--coordinator', loopback(coordinator)], { timeoutMs: 90_000 });
  const start = () => startDaemon(['coordinator', '--port', '0', '--state-dir', disk.dir, '--agent', loopback(agent)]);

  beforeAll(async () => {
    disk = mountTmpfs(20);
    agent = await startDaemon(['agent', '--port', '0', '--cores', '2']);
    coordinator = await start();
    await coordinator.waitFor(/agent \S+ up at/);
  });

  // What the daemons said is the first thing to read when this fails on another machine.
  // What held the disk too: a space that never came back is read from the files' sizes.
  beforeEach(({ onTestFailed }) =>
    onTestFailed(() =>
      console.error(`coordinator said:\n${coordinator?.output()}\nagent said:\n${agent?.output()}\nthe state disk held:\n${diskUse(disk.dir)}`),
    ),
  );

  afterAll(async () => {
    await Promise.all([coordinator?.stop('SIGKILL'), agent?.stop('SIGKILL')]);
    disk?.unmount();
  });

  it('fails only the job whose 30 × 1 MB outputs do not fit, and a job beside it completes', async () => {
    const beside = await cli(['submit', fixture('counted.ts'), '--no-wait', '--json', '--arg', 'n=6', '--arg', 'ms=400']);
    const besideId = JSON.parse(beside.stdout).jobId as string;
    const big = await cli(['submit', fixture('disk-filler.ts'), '--json', '--arg', 'n=30', '--arg', 'mib=1']);
    const out = JSON.parse(big.stdout);
    expect(out.state).toBe('FAILED');
    expect(out.error).toBe(
      `the coordinator's disk is full (${disk.dir}): this job's task outputs could not be stored, so it was stopped; free space there ` +
        '(or restart the coordinator with a --state-dir on a bigger disk) and submit it again',
    );
    expect(big.code).toBe(1);
    expect(coordinator.proc.exitCode).toBeNull();
    const done = await cli(['result', besideId, '--json']);
    expect(done.stdout.trim()).toBe(String(Array.from({ length: 6 }, (_, i) => i * i).reduce((a, b) => a + b)));
    // The failed job's outputs are deleted, and with them the full disk: the coordinator says so by itself.
    await coordinator.waitFor(/disk space is back on \S+ \(\d+ MiB free\): accepting jobs again/);
  });

  it('refuses a submit while the disk is full, naming the state dir, and accepts submits again when space returns', async () => {
    const filler = fillDisk(disk.dir);
    // 10 MB of inputs: more than any room left inside the database files.
    const refused = await cli(['submit', fixture('checksums.ts'), '--arg', 'n=40', '--arg', 'kib=256']);
    expect(refused.stderr).toContain(`the coordinator's disk is full (${disk.dir})`);
    // Not taken for gRPC's own "message over the size limit", which shares its status code.
    expect(refused.stderr).not.toContain('size limit');
    expect(refused.code).not.toBe(0);
    expect(coordinator.proc.exitCode).toBeNull();
    rmSync(filler);
    // Space is noticed within seconds; the hang guard is the loop's bound.
    let accepted: Awaited<ReturnType<typeof cli>> | undefined;
    for (let i = 0; i < 60 && accepted?.code !== 0; i++) {
      if (i) await sleep(500);
      accepted = await cli(['submit', fixture('slow-square.ts'), '--arg', 'n=4']);
    }
    expect(accepted!.stderr).not.toContain('disk is full');
    expect(accepted!.stdout.trim()).toBe('14');
  });

  it('starts again on that state without meeting the failed job again', async () => {
    await coordinator.stop('SIGKILL');
    coordinator = await start();
    await coordinator.waitFor(/agent \S+ up at/);
    expect(coordinator.output()).not.toMatch(/recovered \d+ unfinished job/);
    const jobs = JSON.parse((await cli(['jobs', '--json'])).stdout) as { name: string; state: string }[];
    expect(jobs.find((j) => j.name === 'big-outputs')?.state).toBe('FAILED');
    const again = await cli(['submit', fixture('slow-square.ts'), '--arg', 'n=3']);
    expect(again.stdout.trim()).toBe('5');
  });
});

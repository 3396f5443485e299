/**
 * A keyed job's map on an agent whose disk is full (its --cache-dir on a
 * small tmpfs, filled up), with no other agent to move it to: the job fails
 * saying where there is no space and what to do, rather than with a bare
 * ENOSPC. (With another agent, the task moves there:
 * ./keyed-disk-full-moves.test.ts.)
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture, runCli, startDaemon } from './support/cli.js';
import type { Daemon } from './support/cli.js';
import { canMount, fillDisk, mountTmpfs } from './support/tmpfs.js';

describe.skipIf(!canMount)('a keyed job on an agent whose disk is full', () => {
  let disk: ReturnType<typeof mountTmpfs>;
  let agent: Daemon;
  let coordinator: Daemon;

  beforeAll(async () => {
    disk = mountTmpfs(8);
    agent = await startDaemon(['agent', '--host', '127.0.0.1', '--port', '0', '--cores', '1', '--cache-dir', disk.dir]);
    coordinator = await startDaemon(['coordinator', '--host', '127.0.0.1', '--port', '0', '--agent', agent.address]);
    await coordinator.waitFor(/agent \S+ up at/);
  });

  afterAll(async () => {
    await Promise.all([coordinator?.stop('SIGKILL'), agent?.stop('SIGKILL')]);
    disk?.unmount();
  });

  it('fails the job naming the agent disk that is full and what to do', async () => {
    const input = join(await mkdtemp(join(tmpdir(), 'picompute-keyed-full-')), 'words.txt');
    await writeFile(input, `${Array.from({ length: 20_000 }, (_, i) => `word${i} other${i % 100}`).join('\n')}\n`);
    // The job's code reaches the agent's cache first (a run that fits), then the disk fills up.
    const first = await runCli(['submit', fixture('keyed/wc.ts'), '--coordinator', coordinator.address, '--input', input]);
    expect(first.code, first.stderr).toBe(0);
    fillDisk(disk.dir);
    const r = await runCli(['submit', fixture('keyed/wc.ts'), '--coordinator', coordinator.address, '--input', input]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("no space left on this agent's disk for the map's sorted runs");
    expect(r.stderr).toContain('free space there, or give the agent another --cache-dir');
  });
});

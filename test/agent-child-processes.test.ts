/**
 * Processes a task starts end with the task (returned or cancelled), even
 * detached ones, and none stays a zombie under the agent.
 */
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fixture, runCli } from './support/cli.js';
import { useDaemonCluster } from './support/daemon-cluster.js';
import { alive, children } from './support/proc.js';

async function until(what: string, ok: () => boolean, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const pidsIn = (dir: string) => readdirSync(dir).map((f) => Number(readFileSync(join(dir, f), 'utf8')));

describe("a task's child processes", () => {
  const cluster = useDaemonCluster(['--cores', '2']);
  const agentChildren = () => children(cluster.agent.proc.pid!);

  it('a detached sleep 600 of a cancelled task is killed and reaped', async () => {
    const pidDir = mkdtempSync(join(tmpdir(), 'picompute-pids-'));
    const job = await cluster.client.submit(fixture('spawn-sleep.ts'), { args: { n: '2', pidDir, wait: 'forever' } });
    await until('both tasks to start their sleep', () => readdirSync(pidDir).length === 2);
    const pids = pidsIn(pidDir);
    expect(pids.every(alive)).toBe(true);

    const cancel = await runCli(['cancel', job.id, '--coordinator', cluster.coordinator.address]);
    expect(cancel.code).toBe(0);
    await until('the sleeps to end', () => !pids.some(alive));
    await until('no zombie under the agent', () => !agentChildren().some((c) => c.state === 'Z'));
    expect(agentChildren()).toEqual([]);
  });

  it('a detached sleep 600 of a task that returned is killed and reaped; the agent keeps serving', async () => {
    const pidDir = mkdtempSync(join(tmpdir(), 'picompute-pids-'));
    const job = await cluster.client.submit(fixture('spawn-sleep.ts'), { args: { n: '3', pidDir } });
    const pids = await job.result<number[]>();
    expect(pids.sort()).toEqual(pidsIn(pidDir).sort());
    await until('the sleeps to end', () => !pids.some(alive));
    await until('no zombie under the agent', () => !agentChildren().some((c) => c.state === 'Z'));
  });

  it("a shell's background sleep outlives the shell but not the task", async () => {
    const pidDir = mkdtempSync(join(tmpdir(), 'picompute-pids-'));
    const job = await cluster.client.submit(fixture('spawn-sleep.ts'), { args: { n: '1', pidDir, how: 'shell' } });
    const pids = await job.result<number[]>();
    expect(pids).toEqual(pidsIn(pidDir));
    await until('the background sleep to end', () => !pids.some(alive));
  });
});

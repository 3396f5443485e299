/**
 * Coordinator and agents started by hand as separate processes on loopback,
 * as in the README: agents named with --agent, or registering themselves.
 */
import { mkdtemp, readdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import { arch, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture, runCli, startDaemon } from './support/cli.js';
import type { Daemon } from './support/cli.js';

/** A loopback port nothing listens on right now, for a daemon to be started there later. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('coordinator with two one-core agents named by hand', () => {
  let agents: Daemon[];
  let coordinator: Daemon;

  beforeAll(async () => {
    agents = await Promise.all([0, 1].map(() => startDaemon(['agent', '--port', '0', '--cores', '1'])));
    coordinator = await startDaemon(['coordinator', '--port', '0', ...agents.flatMap((a) => ['--agent', a.address])]);
    await coordinator.waitFor(/agent .* up at .*\n[^]*agent .* up at /);
  });
  afterAll(async () => {
    // After a failed beforeAll some of these were never started; stop what was.
    await Promise.all([coordinator, ...(agents ?? [])].map((d) => d?.stop('SIGKILL')));
  });

  it('runs the job and gives tasks to both agents', async () => {
    const r = await runCli(['submit', fixture('slow-square.ts'), '--json', '--arg', 'n=8', '--coordinator', coordinator.address]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.result).toBe([0, 1, 2, 3, 4, 5, 6, 7].reduce((a, i) => a + i * i, 0));
    expect(out.stats.nodes).toHaveLength(2);
    expect(out.stats.cores).toBe(2);
  });

  it('inputs too big to ride in the submit (2.4 MiB, each under 64 KiB: not chunks) go up over PutBlob and reach the tasks intact', async () => {
    const { block, sum } = await import('./fixtures/checksums.js');
    const r = await runCli(['submit', fixture('checksums.ts'), '--json', '--arg', 'n=40', '--arg', 'kib=60', '--coordinator', coordinator.address]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).result).toEqual(Array.from({ length: 40 }, (_, i) => sum(block(i, 60))));
  });

  it('keeps serving after a job fails: the next job succeeds on the same agents', async () => {
    const bad = await runCli(['submit', fixture('throws.ts'), '--coordinator', coordinator.address]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('bad value 3');
    const hog = await runCli(['submit', fixture('memory-hog.ts'), '--mem-per-task', '64M', '--coordinator', coordinator.address]);
    expect(hog.code).toBe(1);
    expect(hog.stderr).toContain('ran out of memory');
    const good = await runCli(['submit', fixture('word-lengths.ts'), '--json', '--coordinator', coordinator.address]);
    expect(good.code).toBe(0);
    expect(JSON.parse(good.stdout).result).toEqual({ a: 12, b: 15, c: 6 });
  });
});

describe('an agent that registers itself', () => {
  it('gets work from the coordinator it names', async () => {
    const coordinator = await startDaemon(['coordinator', '--port', '0']);
    const agent = await startDaemon(['agent', '--port', '0', '--cores', '1', '--coordinator', coordinator.address]);
    try {
      // Bound to all interfaces, it registers the local address of its route to the coordinator.
      await coordinator.waitFor(/agent \S+ up at 127\.0\.0\.1:\d+/);
      const r = await runCli(['submit', fixture('slow-square.ts'), '--json', '--arg', 'n=3', '--coordinator', coordinator.address]);
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ state: 'COMPLETED', result: 5 });
    } finally {
      await Promise.all([agent.stop('SIGKILL'), coordinator.stop('SIGKILL')]);
    }
  });
});

describe('the queue without agents', () => {
  it('a job submitted while no agent is up waits PENDING (NoNodes) and runs when one appears', async () => {
    const coordinator = await startDaemon(['coordinator', '--port', '0']);
    let agent: Daemon | undefined;
    try {
      const job = runCli(['submit', fixture('slow-square.ts'), '--arg', 'n=4', '--coordinator', coordinator.address.replace('0.0.0.0', '127.0.0.1')]);
      await coordinator.waitFor(/job 1 \(slow-square\) submitted/);
      await new Promise((r) => setTimeout(r, 500));
      agent = await startDaemon(['agent', '--port', '0', '--cores', '1', '--coordinator', coordinator.address.replace('0.0.0.0', '127.0.0.1')]);
      const r = await job;
      expect(r.stderr).toContain('job 1: pending (NoNodes: no agent is up yet; the job waits for one)');
      expect(r.code).toBe(0);
      expect(r.stdout.trim()).toBe('14');
    } finally {
      await Promise.all([agent?.stop('SIGKILL'), coordinator.stop('SIGKILL')]);
    }
  });
});

describe('picompute nodes', () => {
  it('shows state, cores, memory, load and the CPU temperature from the thermal sensor file', async () => {
    const agent = await startDaemon(['agent', '--port', '0', '--cores', '1', '--label', 'pi5', '--thermal-path', fixture('thermal_zone0_temp')]);
    const coordinator = await startDaemon(['coordinator', '--port', '0', '--agent', agent.address.replace('0.0.0.0', '127.0.0.1')]);
    const target = coordinator.address.replace('0.0.0.0', '127.0.0.1');
    try {
      await coordinator.waitFor(/agent \S+ up at/);
      await new Promise((r) => setTimeout(r, 1500)); // one heartbeat
      const json = JSON.parse((await runCli(['nodes', '--json', '--coordinator', target])).stdout);
      expect(json).toHaveLength(1);
      expect(json[0]).toMatchObject({
        state: 'idle',
        coresBusy: 0,
        info: { cores: 1, labels: expect.arrayContaining(['pi5', `arch=${arch()}`]) },
        lastHeartbeat: { temperatureC: 48.312 },
      });
      expect(json[0].lastHeartbeat.freeMemoryMb).toBeGreaterThan(0);
      const text = (await runCli(['nodes', '--coordinator', target])).stdout;
      expect(text).toMatch(/^NODE\s+STATE\s+CORES\s+SPEED\s+MEM FREE\s+LOAD\s+TEMP\s+LABELS\s+RTT\s+VERSION\s+ADDRESS$/m);
      expect(text).toMatch(/idle\s+0\/1\s+(1\.0×|-)\s+\d+\/\d+M\s+[\d.]+\s+48\.3°C\s+pi5,arch=\w+\S*\s+[\d.]+ms\s+0\.1\.0\s+127\.0\.0\.1:\d+/);
      expect(json[0].rttMs).toBeGreaterThan(0);
      const none = await runCli(['nodes']);
      expect(none.code).toBe(2);
      expect(none.stderr).toContain('no coordinator: pass --coordinator host:port');
    } finally {
      await Promise.all([agent.stop('SIGKILL'), coordinator.stop('SIGKILL')]);
    }
  });
});

describe('bundles', () => {
  it('an agent fetches a job bundle once and keeps it on disk, named by its hash', async () => {
    const cacheDir = await mkdtemp(join(tmpdir(), 'picompute-cache-'));
    const agent = await startDaemon(['agent', '--port', '0', '--cores', '1', '--cache-dir', cacheDir]);
    const coordinator = await startDaemon(['coordinator', '--port', '0', '--agent', agent.address]);
    try {
      for (let i = 0; i < 2; i++) {
        const r = await runCli(['submit', fixture('word-lengths.ts'), '--coordinator', coordinator.address]);
        expect(r.code).toBe(0);
      }
      const files = (await readdir(cacheDir)).filter((f) => f.endsWith('.mjs'));
      expect(files).toHaveLength(1);
      expect(files[0]).toMatch(/^[0-9a-f]{64}\.mjs$/);
    } finally {
      await Promise.all([agent.stop('SIGKILL'), coordinator.stop('SIGKILL')]);
    }
  });
});

describe('daemon lifecycle', () => {
  it('an agent whose coordinator does not answer says so within seconds and keeps trying until one does', async () => {
    const port = await freePort();
    const agent = await startDaemon(['agent', '--port', '0', '--cores', '1', '--coordinator', `127.0.0.1:${port}`]);
    let coordinator: Daemon | undefined;
    try {
      await agent.waitFor(new RegExp(`cannot register with the coordinator at 127\\.0\\.0\\.1:${port} \\(.+\\); retrying every few seconds`), 8000);
      // Still trying: a coordinator that comes up later on that address gets the agent without anyone restarting it.
      coordinator = await startDaemon(['coordinator', '--port', String(port), '--host', '127.0.0.1']);
      await agent.waitFor(/registered with the coordinator at/);
      await coordinator.waitFor(/agent \S+ up at/);
      const r = await runCli(['submit', fixture('slow-square.ts'), '--json', '--arg', 'n=3', '--coordinator', `127.0.0.1:${port}`]);
      expect(JSON.parse(r.stdout)).toMatchObject({ state: 'COMPLETED', result: 5 });
    } finally {
      await Promise.all([agent.stop('SIGKILL'), coordinator?.stop('SIGKILL')]);
    }
  });

  it('SIGTERM stops an agent and a coordinator cleanly (exit 0)', async () => {
    const agent = await startDaemon(['agent', '--port', '0']);
    const coordinator = await startDaemon(['coordinator', '--port', '0', '--agent', agent.address]);
    await coordinator.waitFor(/agent \S+ up at/);
    expect(await coordinator.stop('SIGTERM')).toBe(0);
    expect(coordinator.output()).toContain('SIGTERM: stopping');
    expect(await agent.stop('SIGTERM')).toBe(0);
  });

  it('a coordinator told of an agent that does not answer says so, keeps trying, and uses the agent once it is up', async () => {
    const port = await freePort();
    const coordinator = await startDaemon(['coordinator', '--port', '0', '--agent', `127.0.0.1:${port}`]);
    let agent: Daemon | undefined;
    try {
      await coordinator.waitFor(new RegExp(`cannot reach agent at 127\\.0\\.0\\.1:${port}`));
      agent = await startDaemon(['agent', '--port', String(port), '--host', '127.0.0.1', '--cores', '1']);
      await coordinator.waitFor(/agent \S+ up at/);
      const r = await runCli(['submit', fixture('slow-square.ts'), '--json', '--arg', 'n=3', '--coordinator', coordinator.address]);
      expect(JSON.parse(r.stdout)).toMatchObject({ state: 'COMPLETED', result: 5 });
    } finally {
      await Promise.all([coordinator.stop('SIGKILL'), agent?.stop('SIGKILL')]);
    }
  });

  it('a port already in use: a clear message and a non-zero exit', async () => {
    const first = await startDaemon(['agent', '--port', '0']);
    try {
      const port = first.address.split(':').pop()!;
      const r = await runCli(['agent', '--port', port], { timeoutMs: 10_000 });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`agent cannot listen on 0.0.0.0:${port}`);
    } finally {
      await first.stop('SIGKILL');
    }
  });
});

/**
 * README claims about the daemons, the queue and the verbs that had no test
 * of their own (issue #18): real coordinator and agent processes on
 * loopback, real gRPC, real SQLite, real kills.
 */
import { createServer } from 'node:net';
import { mkdtemp, stat, readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KEY_FILE, fixture, makeKeyFile, runCli, startDaemon, stateDir } from './support/cli.js';
import type { Daemon } from './support/cli.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const loopback = (d: Daemon) => d.address.replace('0.0.0.0', '127.0.0.1');
const idOf = (agent: Daemon) => agent.output().match(/agent (\S+) listening/)![1]!;

async function until<T>(what: string, probe: () => Promise<T | undefined>, limitMs = 30_000): Promise<T> {
  const started = Date.now();
  while (Date.now() - started < limitMs) {
    const v = await probe();
    if (v !== undefined) return v;
    await sleep(100);
  }
  throw new Error(`${what}: not within ${limitMs} ms`);
}

/** A coordinator with one agent of `cores` cores, both on loopback, for one describe block. */
function useCluster(cores: number, agentFlags: string[] = []) {
  const c = { agent: undefined as unknown as Daemon, coordinator: undefined as unknown as Daemon };
  beforeAll(async () => {
    c.agent = await startDaemon(['agent', '--port', '0', '--cores', String(cores), ...agentFlags]);
    c.coordinator = await startDaemon(['coordinator', '--port', '0', '--agent', loopback(c.agent)]);
    await c.coordinator.waitFor(/agent \S+ up at/);
  });
  afterAll(async () => {
    await Promise.all([c.coordinator?.stop('SIGKILL'), c.agent?.stop('SIGKILL')]);
  });
  const cli = (args: string[], opts: { timeoutMs?: number } = {}) => runCli([...args, '--coordinator', loopback(c.coordinator)], opts);
  const submitNoWait = async (args: string[]) => {
    const r = await cli(['submit', ...args, '--no-wait', '--json']);
    expect(r.code).toBe(0);
    return JSON.parse(r.stdout).jobId as string;
  };
  const queue = async () => JSON.parse((await cli(['queue', '--json'])).stdout) as { jobs: { jobId: string; name: string; state: string; reason: string; tasksDone: number }[]; shares: unknown[] };
  return { c, cli, submitNoWait, queue };
}

describe('README: the queue on one one-core agent', () => {
  const { cli, submitNoWait, queue } = useCluster(1);

  it('a job waiting behind a higher-priority running job is PENDING(Priority); one that only waits for a core is PENDING(Resources)', async () => {
    // Two tasks: the agent's whole window (a node takes batches up to twice its cores).
    const running = await submitNoWait([fixture('busy.ts'), '--arg', 'n=2', '--arg', 'ms=60000', '--priority', '5']);
    const ids = [running];
    try {
      await until('the busy job running', async () => ((await queue()).jobs.find((j) => j.jobId === running)?.state === 'RUNNING' ? true : undefined));
      const lower = await submitNoWait([fixture('word-lengths.ts'), '--priority', '1']);
      ids.push(lower);
      const higher = await submitNoWait([fixture('word-lengths.ts'), '--priority', '9']);
      ids.push(higher);
      const text = await until('both reasons set', async () => {
        const out = (await cli(['queue'])).stdout;
        return out.includes('PENDING(Priority)') && out.includes('PENDING(Resources)') ? out : undefined;
      });
      expect(text).toMatch(new RegExp(`^${lower}\\s+word-lengths\\s+\\S+\\s+PENDING\\(Priority\\)\\s+1\\s`, 'm'));
      expect(text).toMatch(new RegExp(`^${higher}\\s+word-lengths\\s+\\S+\\s+PENDING\\(Resources\\)\\s+9\\s`, 'm'));
      expect(text).toMatch(new RegExp(`^${running}\\s+busy\\s+\\S+\\s+RUNNING\\s+5\\s`, 'm'));
    } finally {
      await cli(['cancel', ...ids]);
    }
  });

  it('cancel takes several ids and cancels each, running or pending', async () => {
    const ids = [
      await submitNoWait([fixture('busy.ts'), '--arg', 'n=2', '--arg', 'ms=60000']),
      await submitNoWait([fixture('busy.ts'), '--arg', 'n=2', '--arg', 'ms=60000']),
      await submitNoWait([fixture('busy.ts'), '--arg', 'n=2', '--arg', 'ms=60000']),
    ];
    const r = await cli(['cancel', ...ids]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual(ids.map((id) => `job ${id} CANCELLED`));
    const history = JSON.parse((await cli(['jobs', '--json'])).stdout) as { jobId: string; state: string }[];
    for (const id of ids) expect(history.find((j) => j.jobId === id)?.state).toBe('CANCELLED');
    expect((await queue()).jobs.filter((j) => ids.includes(j.jobId))).toEqual([]);
  });

  it('--name names the job in queue and jobs', async () => {
    const id = await submitNoWait([fixture('busy.ts'), '--arg', 'n=1', '--arg', 'ms=60000', '--name', 'nightly-render']);
    try {
      expect((await cli(['queue'])).stdout).toMatch(new RegExp(`^${id}\\s+nightly-render\\s`, 'm'));
    } finally {
      await cli(['cancel', id]);
    }
    expect((await cli(['jobs'])).stdout).toMatch(new RegExp(`^${id}\\s+nightly-render\\s+\\S+\\s+CANCELLED\\s`, 'm'));
  });
});

describe('README: fair share', () => {
  const { c, cli, submitNoWait } = useCluster(2);

  it("queue shows each user's share of the cores: two users with a job each get half each", async () => {
    // Two tasks: half of the agent's window (a node takes batches up to twice its cores), so alice's job gets the other half.
    const mine = await submitNoWait([fixture('busy.ts'), '--arg', 'n=2', '--arg', 'ms=60000']);
    process.env.PICOMPUTE_KEY_FILE = KEY_FILE; // the SDK finds the key as the CLI does
    const { connect } = await import('@picompute/sdk/client');
    const client = await connect({ coordinator: loopback(c.coordinator) });
    const theirs = await client.submit(fixture('busy.ts'), { args: { n: '4', ms: '60000' }, user: 'alice' });
    try {
      const me = (await import('node:os')).userInfo().username;
      const line = await until('both users holding a core', async () => {
        const out = (await cli(['queue'])).stdout;
        return /alice 50%/.test(out) ? out.split('\n').find((l) => l.startsWith('shares: ')) : undefined;
      });
      expect(line).toMatch(new RegExp(`(: |· )${me} 50% \\(\\d+ cores, 1 jobs\\)`));
      expect(line).toMatch(/(: |· )alice 50% \(\d+ cores, 1 jobs\)/);
      const json = JSON.parse((await cli(['queue', '--json'])).stdout) as { shares: { user: string; coresInUse: number; share: number; jobs: number }[] };
      expect(json.shares.map((s) => [s.user, s.share, s.jobs]).sort()).toEqual([[me, 0.5, 1], ['alice', 0.5, 1]].sort());
      expect(json.shares[0]!.coresInUse).toBe(json.shares[1]!.coresInUse);
    } finally {
      await cli(['cancel', mine, theirs.id]);
      client.close();
    }
  });
});

describe('README: jobs shows CPUTIME and MAXHEAP', () => {
  const { cli } = useCluster(2);

  it('CPUTIME is the summed run time of the tasks; MAXHEAP the largest heap a task held', async () => {
    const run = async (args: string[]) => {
      const r = await cli(['submit', fixture('heap-and-time.ts'), '--json', ...args]);
      expect(r.code).toBe(0);
      return JSON.parse(r.stdout).jobId as string;
    };
    // The small job first: MAXHEAP is the worker's whole heap, and a worker kept for the next job still holds the last one's garbage.
    const smallId = await run(['--arg', 'n=2', '--arg', 'ms=0', '--arg', 'mb=0']);
    const cpuId = await run(['--arg', 'n=4', '--arg', 'ms=600', '--arg', 'mb=0']);
    const heapId = await run(['--arg', 'n=2', '--arg', 'ms=0', '--arg', 'mb=96']);
    const jobs = JSON.parse((await cli(['jobs', '--json'])).stdout) as { jobId: string; cpuMs: number; maxHeapMb: number; wallMs: number }[];
    const [small, cpu, heap] = [smallId, cpuId, heapId].map((id) => jobs.find((j) => j.jobId === id)!);
    expect(small!.cpuMs).toBeLessThan(1000);
    expect(small!.maxHeapMb).toBeLessThan(48);
    // Four tasks of 600 ms each: at least 2.4 s, and no more than two cores' worth of the job's wall time.
    expect(cpu!.cpuMs).toBeGreaterThanOrEqual(2400);
    expect(cpu!.cpuMs).toBeLessThanOrEqual(cpu!.wallMs * 2 + 200);
    expect(heap!.maxHeapMb).toBeGreaterThanOrEqual(96);
    const { formatDuration } = await import('@picompute/sdk/units');
    const text = (await cli(['jobs'])).stdout;
    const row = (j: typeof cpu, tasks: string) =>
      new RegExp(`^${j!.jobId}\\s+heap-and-time\\s+\\S+\\s+COMPLETED\\s+0\\s+\\S+\\s+${formatDuration(j!.cpuMs).replace('.', '\\.')}\\s+${tasks}\\s+\\d+\\s+${j!.maxHeapMb.toFixed(1).replace('.', '\\.')}M$`, 'm');
    expect(text).toMatch(row(cpu, '4/4'));
    expect(text).toMatch(row(heap, '2/2'));
  });
});

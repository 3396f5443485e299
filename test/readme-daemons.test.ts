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
import { KEY_FILE, fixture, makeKeyFile, runCli, startDaemon, stateDir, loopback } from './support/cli.js';
import type { Daemon } from './support/cli.js';
import { until } from './support/until.js';

const idOf = (agent: Daemon) => agent.output().match(/agent (\S+) listening/)![1]!;

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
  const queue = async () =>
    JSON.parse((await cli(['queue', '--json'])).stdout) as {
      jobs: { jobId: string; name: string; state: string; reason: string; tasksDone: number }[];
      shares: unknown[];
    };
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
    // One task each on a two-core agent: each user's job holds one core.
    const mine = await submitNoWait([fixture('busy.ts'), '--arg', 'n=1', '--arg', 'ms=60000']);
    process.env.PICOMPUTE_KEY_FILE = KEY_FILE; // the SDK finds the key as the CLI does
    const { connect } = await import('@picompute/sdk/client');
    const client = await connect({ coordinator: loopback(c.coordinator) });
    const theirs = await client.submit(fixture('busy.ts'), { args: { n: '1', ms: '60000' }, user: 'alice' });
    try {
      const me = (await import('node:os')).userInfo().username;
      const line = await until('both users holding a core', async () => {
        const out = (await cli(['queue'])).stdout;
        return /alice 50%/.test(out) ? out.split('\n').find((l) => l.startsWith('shares: ')) : undefined;
      });
      expect(line).toMatch(new RegExp(`(: |· )${me} 50% \\(1 cores, 1 jobs\\)`));
      expect(line).toMatch(/(: |· )alice 50% \(1 cores, 1 jobs\)/);
      const json = JSON.parse((await cli(['queue', '--json'])).stdout) as { shares: { user: string; coresInUse: number; share: number; jobs: number }[] };
      expect(json.shares.map((s) => [s.user, s.share, s.jobs]).sort()).toEqual(
        [
          [me, 0.5, 1],
          ['alice', 0.5, 1],
        ].sort(),
      );
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
      new RegExp(
        `^${j!.jobId}\\s+heap-and-time\\s+\\S+\\s+COMPLETED\\s+0\\s+\\S+\\s+${formatDuration(j!.cpuMs).replace('.', '\\.')}\\s+${tasks}` +
          `\\s+\\d+\\s+${j!.maxHeapMb.toFixed(1).replace('.', '\\.')}M$`,
        'm',
      );
    expect(text).toMatch(row(cpu, '4/4'));
    expect(text).toMatch(row(heap, '2/2'));
  });
});

describe('README: durability', () => {
  it('a submit is on disk when acknowledged: SIGKILL right after `submit --no-wait`, restart, and the job completes', async () => {
    const state = stateDir();
    const agent = await startDaemon(['agent', '--port', '0', '--cores', '1']);
    let coordinator = await startDaemon(['coordinator', '--port', '0', '--state-dir', state, '--agent', loopback(agent)]);
    try {
      await coordinator.waitFor(/agent \S+ up at/);
      const r = await runCli([
        'submit',
        fixture('counted.ts'),
        '--no-wait',
        '--json',
        '--arg',
        'n=6',
        '--arg',
        'ms=300',
        '--coordinator',
        loopback(coordinator),
      ]);
      expect(r.code).toBe(0);
      await coordinator.stop('SIGKILL');
      const id = JSON.parse(r.stdout).jobId as string;
      coordinator = await startDaemon(['coordinator', '--port', '0', '--state-dir', state, '--agent', loopback(agent)]);
      const result = await runCli(['result', id, '--coordinator', loopback(coordinator)]);
      expect(result.code).toBe(0);
      expect(result.stdout.trim()).toBe(String([0, 1, 2, 3, 4, 5].reduce((a, i) => a + i * i, 0)));
    } finally {
      await Promise.all([coordinator.stop('SIGKILL'), agent.stop('SIGKILL')]);
    }
  });
});

describe('README: a lost agent', () => {
  it('a task whose node dies each time runs at most 3 times, then the job ends NODE_FAIL', async () => {
    const agents = await Promise.all([0, 1, 2, 3].map(() => startDaemon(['agent', '--port', '0', '--cores', '1'])));
    const coordinator = await startDaemon(['coordinator', '--port', '0', ...agents.flatMap((a) => ['--agent', loopback(a)])]);
    try {
      await coordinator.waitFor(/(agent \S+ up at[^]*){4}/);
      const r = await runCli(['submit', fixture('kill-agent.ts'), '--json', '--coordinator', loopback(coordinator)], { timeoutMs: 90_000 });
      expect(r.code).toBe(1);
      expect(JSON.parse(r.stdout)).toMatchObject({ state: 'NODE_FAIL' });
      // Three attempts killed three agents; the fourth never got the task.
      expect(agents.filter((a) => a.proc.exitCode === null && a.proc.signalCode === null)).toHaveLength(1);
      const jobs = JSON.parse((await runCli(['jobs', '--json', '--coordinator', loopback(coordinator)])).stdout);
      expect(jobs[0]).toMatchObject({ state: 'NODE_FAIL', attempts: 3 });
    } finally {
      await Promise.all([coordinator, ...agents].map((d) => d.stop('SIGKILL')));
    }
  });
});

describe('README: daemon flags', () => {
  it('--max-message: a coordinator with --max-message 1M refuses a 2.4 MiB upload, and a 2.5 MiB input value, and keeps serving', async () => {
    const agent = await startDaemon(['agent', '--port', '0', '--cores', '1']);
    const coordinator = await startDaemon(['coordinator', '--port', '0', '--max-message', '1M', '--agent', loopback(agent)]);
    const refused = new RegExp(
      /refused a message over its size limit \(.*larger than max \(\d+ vs 1048576\)\); /.source +
        /send smaller inputs, or start the coordinator with a larger --max-message/.source,
    );
    try {
      await coordinator.waitFor(/agent \S+ up at/);
      // 40 inputs of 60 KiB (under 64 KiB each, so they go packed in one upload before the submit): refused, nothing submitted.
      const big = await runCli(['submit', fixture('checksums.ts'), '--json', '--arg', 'n=40', '--arg', 'kib=60', '--coordinator', loopback(coordinator)]);
      expect(big.code).toBe(2);
      expect(big.stdout).toBe('');
      expect(big.stderr).toMatch(refused);
      // One value of 2.5 MiB goes as a chunk after the submit: the job is cancelled, saying why.
      const value = await runCli(['submit', fixture('checksums.ts'), '--json', '--arg', 'n=1', '--arg', 'kib=2560', '--coordinator', loopback(coordinator)]);
      expect(value.code).toBe(1);
      expect(JSON.parse(value.stdout)).toMatchObject({ state: 'CANCELLED' });
      expect(JSON.parse(value.stdout).error).toMatch(/was cancelled: its input could not be sent: /);
      expect(JSON.parse(value.stdout).error).toMatch(refused);
      const small = await runCli(['submit', fixture('word-lengths.ts'), '--json', '--coordinator', loopback(coordinator)]);
      expect(small.code).toBe(0);
      expect(JSON.parse(small.stdout).result).toEqual({ a: 12, b: 15, c: 6 });
    } finally {
      await Promise.all([coordinator.stop('SIGKILL'), agent.stop('SIGKILL')]);
    }
  });

  it('--speed-probe-every: a malformed duration stops the agent before it starts, saying what a duration looks like (exit 2)', async () => {
    const r = await runCli(['agent', '--port', '0', '--host', '127.0.0.1', '--speed-probe-every', 'soon'], { timeoutMs: 10_000 });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--speed-probe-every: "soon" is not a duration; use a number with ms, s, m, h or d, like 30s or 2m');
  });

  it('--advertise-address: a registering agent is dialled at the address it advertises', async () => {
    // 127.0.0.2 is loopback too, and an agent on 0.0.0.0 answers there; without the flag it would register 127.0.0.1.
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const coordinator = await startDaemon(['coordinator', '--port', '0']);
    const agent = await startDaemon([
      'agent',
      '--port',
      String(port),
      '--cores',
      '1',
      '--coordinator',
      loopback(coordinator),
      '--advertise-address',
      `127.0.0.2:${port}`,
    ]);
    try {
      await coordinator.waitFor(new RegExp(`agent \\S+ up at 127\\.0\\.0\\.2:${port}`));
      const nodes = JSON.parse((await runCli(['nodes', '--json', '--coordinator', loopback(coordinator)])).stdout);
      expect(nodes).toMatchObject([{ address: `127.0.0.2:${port}`, state: 'idle' }]);
      const r = await runCli(['submit', fixture('slow-square.ts'), '--json', '--arg', 'n=3', '--coordinator', loopback(coordinator)]);
      expect(JSON.parse(r.stdout)).toMatchObject({ state: 'COMPLETED', result: 5, stats: { nodes: [idOf(agent)] } });
    } finally {
      await Promise.all([agent.stop('SIGKILL'), coordinator.stop('SIGKILL')]);
    }
  });
});

describe('README: defaults', () => {
  it("the per-task heap limit defaults to the node's memory shared by its cores (three quarters of it, 256 MiB to 4 GiB)", async () => {
    const cores = 64;
    const expected = Math.min(4096, Math.max(256, Math.floor((Math.floor(totalmem() / 1048576) * 0.75) / cores)));
    const agent = await startDaemon(['agent', '--port', '0', '--cores', String(cores)]);
    const coordinator = await startDaemon(['coordinator', '--port', '0', '--agent', loopback(agent)]);
    try {
      await coordinator.waitFor(/agent \S+ up at/);
      const r = await runCli(['submit', fixture('memory-hog.ts'), '--coordinator', loopback(coordinator)]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`ran out of memory: its worker's heap limit is ${expected} MiB per task`);
    } finally {
      await Promise.all([coordinator.stop('SIGKILL'), agent.stop('SIGKILL')]);
    }
  });

  it('--keep defaults to 7d: a job that ended 8 days ago is purged at start, one that ended 6 days ago is kept', async () => {
    const state = stateDir();
    const agent = await startDaemon(['agent', '--port', '0', '--cores', '1']);
    let coordinator = await startDaemon(['coordinator', '--port', '0', '--state-dir', state, '--agent', loopback(agent)]);
    try {
      const ids: string[] = [];
      for (const _ of [0, 1]) {
        const r = await runCli(['submit', fixture('word-lengths.ts'), '--json', '--coordinator', loopback(coordinator)]);
        expect(r.code).toBe(0);
        ids.push(JSON.parse(r.stdout).jobId);
      }
      await coordinator.stop('SIGTERM');
      const db = new Database(join(state, 'picompute.db'));
      const day = 86_400_000;
      db.prepare('UPDATE jobs SET ended_at = ? WHERE id = ?').run(Date.now() - 8 * day, Number(ids[0]));
      db.prepare('UPDATE jobs SET ended_at = ? WHERE id = ?').run(Date.now() - 6 * day, Number(ids[1]));
      db.close();
      coordinator = await startDaemon(['coordinator', '--port', '0', '--state-dir', state, '--agent', loopback(agent)]);
      // 7 days, printed as hours.
      await coordinator.waitFor(/purged 1 job\(s\) that ended more than 168h00m ago/);
      const gone = await runCli(['result', ids[0]!, '--coordinator', loopback(coordinator)]);
      expect(gone.code).toBe(2);
      expect(gone.stderr).toContain(`no job with id ${ids[0]}`);
      const kept = await runCli(['result', ids[1]!, '--json', '--coordinator', loopback(coordinator)]);
      expect(kept.stdout.trim()).toBe('{"a":12,"b":15,"c":6}');
    } finally {
      await Promise.all([coordinator.stop('SIGKILL'), agent.stop('SIGKILL')]);
    }
  });

  it('the coordinator keeps its state in ~/.local/state/picompute without --state-dir', async () => {
    const home = await mkdtemp(join(tmpdir(), 'picompute-home-'));
    const { spawn } = await import('node:child_process');
    const { CLI, childEnv } = await import('./support/cli.js');
    // Not startDaemon: it gives every coordinator a --state-dir of its own.
    const child = spawn(process.execPath, [CLI, 'coordinator', '--host', '127.0.0.1', '--port', '0'], {
      env: childEnv({ HOME: home, XDG_STATE_HOME: undefined }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      let out = '';
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no listening line: ${out}`)), 15_000);
        const onData = (d: Buffer) => {
          out += d;
          if (/listening on/.test(out)) clearTimeout(timer), resolve();
        };
        child.stdout.on('data', onData);
        child.stderr.on('data', onData);
      });
      const dir = join(home, '.local', 'state', 'picompute');
      expect(existsSync(join(dir, 'picompute.db'))).toBe(true);
      expect((await stat(dir)).mode & 0o777).toBe(0o700);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('init writes ~/.config/picompute/cluster.key without --key-file', async () => {
    const home = await mkdtemp(join(tmpdir(), 'picompute-home-'));
    const r = await runCli(['init'], { env: { HOME: home, XDG_CONFIG_HOME: undefined, PICOMPUTE_KEY_FILE: undefined } });
    expect(r.code).toBe(0);
    const path = join(home, '.config', 'picompute', 'cluster.key');
    expect(r.stdout).toContain(`cluster key written to ${path}`);
    expect((await readFile(path, 'utf8')).trim()).toMatch(/^[0-9a-f]{64}$/);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
  });
});

describe('README: nothing runs without the cluster key', () => {
  it('a client refuses a coordinator with another key: exit 2, no result', async () => {
    const coordinator = await startDaemon(['coordinator', '--port', '0', '--key-file', makeKeyFile('other-coordinator.key')]);
    try {
      const r = await runCli(['submit', fixture('word-lengths.ts'), '--coordinator', loopback(coordinator)]);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/cluster key|not part of your cluster/);
    } finally {
      await coordinator.stop('SIGKILL');
    }
  });

  it('a coordinator gives no task to an agent with another key, nor to one with no key', async () => {
    const good = await startDaemon(['agent', '--port', '0', '--cores', '1']);
    const stranger = await startDaemon(['agent', '--port', '0', '--cores', '1', '--key-file', makeKeyFile('stranger-agent.key')]);
    const keyless = await startDaemon(['agent', '--host', '127.0.0.1', '--port', '0', '--cores', '1'], { env: { PICOMPUTE_KEY_FILE: undefined } });
    const coordinator = await startDaemon(['coordinator', '--port', '0', ...[good, stranger, keyless].flatMap((a) => ['--agent', loopback(a)])]);
    try {
      await coordinator.waitFor(/agent \S+ up at/);
      const r = await runCli(['submit', fixture('slow-square.ts'), '--json', '--arg', 'n=8', '--coordinator', loopback(coordinator)]);
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ state: 'COMPLETED', result: 140, stats: { nodes: [idOf(good)] } });
      const nodes = JSON.parse((await runCli(['nodes', '--json', '--coordinator', loopback(coordinator)])).stdout) as { info: { id: string }; state: string }[];
      expect(nodes.filter((n) => n.state !== 'down').map((n) => n.info.id)).toEqual([idOf(good)]);
    } finally {
      await Promise.all([coordinator, good, stranger, keyless].map((d) => d.stop('SIGKILL')));
    }
  });
});

describe('README: TLS', () => {
  it('a mutual-TLS coordinator (init --tls) refuses a client that has the CA but no certificate of its own', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'picompute-mtls-'));
    const keyFile = join(dir, 'cluster.key');
    const init = await runCli(['init', '--key-file', keyFile, '--tls', '--node', 'localhost']);
    expect(init.code).toBe(0);
    const tls = join(dir, 'tls');
    const node = (name: string) => [
      '--key-file',
      keyFile,
      '--tls-cert',
      join(tls, `${name}.crt`),
      '--tls-key',
      join(tls, `${name}.key`),
      '--tls-ca',
      join(tls, 'ca.crt'),
    ];
    const agent = await startDaemon(['agent', '--port', '0', '--cores', '1', ...node('localhost')]);
    const coordinator = await startDaemon(['coordinator', '--port', '0', '--agent', `localhost:${agent.address.split(':').pop()}`, ...node('localhost')]);
    const target = `localhost:${coordinator.address.split(':').pop()}`;
    try {
      await coordinator.waitFor(/agent \S+ up at/);
      const ok = await runCli(['submit', fixture('word-lengths.ts'), '--json', '--coordinator', target, ...node('client')]);
      expect(ok.code).toBe(0);
      expect(JSON.parse(ok.stdout).result).toEqual({ a: 12, b: 15, c: 6 });
      const noCert = await runCli([
        'submit',
        fixture('word-lengths.ts'),
        '--json',
        '--coordinator',
        target,
        '--key-file',
        keyFile,
        '--tls-ca',
        join(tls, 'ca.crt'),
      ]);
      expect(noCert.code).toBe(2);
      expect(noCert.stdout).toBe('');
      expect(noCert.stderr).toContain(`the coordinator at ${target} and this client do not accept each other's certificates`);
      expect(noCert.stderr).toContain('--tls-cert/--tls-key');
    } finally {
      await Promise.all([agent.stop('SIGKILL'), coordinator.stop('SIGKILL')]);
    }
  });
});

describe('README: hostile input', () => {
  it('an upload that stalls is dropped after 30 s (the default), and others are served meanwhile', async () => {
    const agent = await startDaemon(['agent', '--port', '0', '--cores', '1']);
    const coordinator = await startDaemon(['coordinator', '--port', '0', '--agent', loopback(agent)]);
    process.env.PICOMPUTE_KEY_FILE = KEY_FILE; // the SDK finds the key as the CLI does
    const { connect } = await import('@picompute/sdk/client');
    const client = await connect({ coordinator: loopback(coordinator) });
    try {
      // The client's own stub (its key and transport, whatever they are), to send what no honest client would: one chunk, then silence.
      const stub = (client as unknown as { rpc: { stub: Record<string, (...args: unknown[]) => unknown> } }).rpc.stub;
      const started = Date.now();
      let call: { write(chunk: unknown): void } | undefined;
      const dropped = new Promise<{ code?: number; details?: string } | null>((resolve) => {
        call = stub.putBlob!.call(stub, (err: { code?: number; details?: string } | null) => resolve(err));
      });
      call!.write({ hash: `upload:${'ab'.repeat(16)}`, data: Buffer.alloc(1024, 7), last: false });
      const served = await runCli(['submit', fixture('word-lengths.ts'), '--json', '--coordinator', loopback(coordinator)]);
      expect(JSON.parse(served.stdout).result).toEqual({ a: 12, b: 15, c: 6 });
      const err = await dropped;
      expect(err?.details).toBe('upload sent nothing for 30s; dropped');
      expect(err?.code).toBe(4); // DEADLINE_EXCEEDED
      expect(Date.now() - started).toBeGreaterThanOrEqual(29_000);
    } finally {
      client.close();
      await Promise.all([coordinator.stop('SIGKILL'), agent.stop('SIGKILL')]);
    }
  }, 90_000);
});

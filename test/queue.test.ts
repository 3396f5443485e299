/**
 * The coordinator as a batch system a Slurm user recognises: durable state
 * that survives SIGKILL, resource requests, fair share and backfill,
 * dependencies, retries, and the verbs (queue, jobs, cancel, result, logs,
 * drain, resume, submit --no-wait), each with its bad input. Each part runs
 * with the state in SQLite and in PostgreSQL, except the state dir's own
 * problems (a file SQLite opens; PostgreSQL's bad input is in
 * ./ha-postgres-basics.test.ts).
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, loadSecurity } from '@picompute/sdk/client';
import type { Client } from '@picompute/sdk/client';
import { fixture, KEY_FILE, runCli, startDaemon, stateDir, loopback } from './support/cli.js';
import type { Daemon } from './support/cli.js';
import { until } from './support/until.js';
import { cannotRun } from './support/requirements.js';
import { backendProblem, STATE_BACKENDS, useStateBackend } from './support/state-backends.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const sumSquares = (n: number) => Array.from({ length: n }, (_, i) => i * i).reduce((a, b) => a + b, 0);

describe.each(STATE_BACKENDS)('a coordinator killed with SIGKILL (state in %s)', (backend) => {
  const problem = backendProblem(backend);
  if (problem) return cannotRun(`a coordinator killed with SIGKILL, with the state in ${backend}`, problem);
  const backendState = useStateBackend(backend);

  it('restarts and finishes three running and two queued jobs exactly, without re-running completed tasks, keeping the history', async () => {
    // The same state for both lives: the dir (SQLite's database, PostgreSQL's working copy) and the backend's flags.
    const state = [...backendState.flags(), '--state-dir', stateDir()];
    const agents = await Promise.all([0, 1].map(() => startDaemon(['agent', '--port', '0', '--cores', '1'])));
    const agentFlags = agents.flatMap((a) => ['--agent', loopback(a)]);
    let coordinator = await startDaemon(['coordinator', '--port', '0', ...state, ...agentFlags]);
    try {
      await coordinator.waitFor(/(agent \S+ up at[^]*){2}/);
      const cli = (args: string[]) => runCli([...args, '--coordinator', loopback(coordinator)]);
      const submitted: string[] = [];
      // 400 ms tasks: ~14 s of work on the two cores, so polling `queue` from new processes on a loaded machine still
      // catches all three jobs running before the first ends (with 150 ms tasks it did not, in a full CI run).
      for (const n of [24, 24, 24]) {
        const r = await cli(['submit', fixture('counted.ts'), '--no-wait', '--arg', `n=${n}`, '--arg', 'ms=400']);
        expect(r.stdout).toMatch(/^Submitted job \d+$/m);
        submitted.push(r.stdout.trim().split(' ').pop()!);
      }
      for (const _ of [0, 1]) {
        const r = await cli(['submit', fixture('counted.ts'), '--no-wait', '--json', '--arg', 'n=6', '--dependency', `afterok:${submitted[0]}`]);
        submitted.push(JSON.parse(r.stdout).jobId);
      }
      // Three running, two held back by their dependency.
      const queue = await until('three jobs running with some tasks done', async () => {
        const q = JSON.parse((await cli(['queue', '--json'])).stdout);
        const running = q.jobs.filter((j: { state: string; tasksDone: number }) => j.state === 'RUNNING' && j.tasksDone > 0);
        return running.length === 3 ? q : undefined;
      });
      expect(queue.jobs.filter((j: { reason: string }) => j.reason === 'Dependency')).toHaveLength(2);
      await coordinator.stop('SIGKILL');

      coordinator = await startDaemon(['coordinator', '--port', '0', ...state, ...agentFlags]);
      expect(await coordinator.waitFor(/recovered (\d+) unfinished job/)).toBe('5');
      const history = await until(
        'all five jobs finished',
        async () => {
          const jobs = JSON.parse((await cli(['jobs', '--json'])).stdout);
          // `jobs` lists running jobs too: wait until all five have ended.
          return jobs.length === 5 && jobs.every((j: { endedAtMs: number }) => j.endedAtMs > 0) ? jobs : undefined;
        },
        120_000,
      );
      expect(history.map((j: { jobId: string; state: string }) => [j.jobId, j.state])).toEqual(submitted.map((id) => [id, 'COMPLETED']));
      for (const [i, id] of submitted.entries()) {
        const result = await cli(['result', id]);
        expect(result.stdout.trim()).toBe(String(sumSquares(i < 3 ? 24 : 6)));
        // Each task logged once per run it completed: a task done before the kill never ran again.
        const logs = JSON.parse((await cli(['logs', id, '--json'])).stdout) as { task: number; line: string }[];
        const runs = logs.map((l) => l.task).sort((a, b) => a - b);
        expect(runs).toEqual(Array.from({ length: i < 3 ? 24 : 6 }, (_, t) => t));
      }
    } finally {
      await Promise.all([coordinator, ...agents].map((d) => d.stop('SIGKILL')));
    }
  }, 180_000);

  it('purges finished jobs older than --keep when it starts', async () => {
    const state = [...backendState.flags(), '--state-dir', stateDir()];
    const agent = await startDaemon(['agent', '--port', '0', '--cores', '1']);
    let coordinator = await startDaemon(['coordinator', '--port', '0', ...state, '--agent', loopback(agent), '--keep', '1s']);
    try {
      const r = await runCli(['submit', fixture('word-lengths.ts'), '--json', '--coordinator', loopback(coordinator)]);
      const id = JSON.parse(r.stdout).jobId;
      expect((await runCli(['result', id, '--json', '--coordinator', loopback(coordinator)])).stdout.trim()).toBe('{"a":12,"b":15,"c":6}');
      await coordinator.stop('SIGTERM');
      await sleep(1200);
      coordinator = await startDaemon(['coordinator', '--port', '0', ...state, '--agent', loopback(agent), '--keep', '1s']);
      await coordinator.waitFor(/purged 1 job\(s\) that ended more than 1s ago/);
      const gone = await runCli(['result', id, '--coordinator', loopback(coordinator)]);
      expect(gone.code).toBe(2);
      expect(gone.stderr).toContain(`no job with id ${id}`);
    } finally {
      await Promise.all([coordinator.stop('SIGKILL'), agent.stop('SIGKILL')]);
    }
  });
});

describe.each(STATE_BACKENDS)('queue semantics (state in %s)', (backend) => {
  const problem = backendProblem(backend);
  if (problem) return cannotRun(`queue semantics with the state in ${backend}`, problem);
  const state = useStateBackend(backend);
  let agents: Daemon[];
  let coordinator: Daemon;
  const cli = (args: string[], opts: { timeoutMs?: number } = {}) => runCli([...args, '--coordinator', loopback(coordinator)], opts);

  beforeAll(async () => {
    agents = [
      await startDaemon(['agent', '--port', '0', '--cores', '1', '--label', 'pi5']),
      await startDaemon(['agent', '--port', '0', '--cores', '1', '--label', 'pi4']),
    ];
    coordinator = await startDaemon(['coordinator', '--port', '0', ...agents.flatMap((a) => ['--agent', loopback(a)]), ...state.flags()]);
    await coordinator.waitFor(/(agent \S+ up at[^]*){2}/);
  });
  afterAll(async () => {
    await Promise.all([coordinator, ...agents].map((d) => d?.stop('SIGKILL')));
  });
  const idOf = (a: Daemon) => a.output().match(/agent (\S+) listening/)![1]!;

  it('refuses at submit a job no node could ever run, saying why', async () => {
    const cores = await cli(['submit', fixture('word-lengths.ts'), '--cores-per-task', '8']);
    expect(cores.code).toBe(2);
    expect(cores.stderr).toMatch(/no node could ever run this job's tasks \(each wants 8 cores\); the largest node, \S+, has 1 cores and \d+ MiB/);
    const label = await cli(['submit', fixture('word-lengths.ts'), '--constraint', 'gpu']);
    expect(label.code).toBe(2);
    expect(label.stderr).toContain('label "gpu"');
    expect(label.stderr).toContain('nodes with that label: none');
    const mem = await cli(['submit', fixture('word-lengths.ts'), '--mem-per-task', '100T']);
    expect(mem.code).toBe(2);
    expect(mem.stderr).toContain('104857600 MiB');
  });

  it('--constraint places tasks only on nodes with the label', async () => {
    const r = await cli(['submit', fixture('slow-square.ts'), '--json', '--arg', 'n=6', '--constraint', 'pi4']);
    expect(JSON.parse(r.stdout)).toMatchObject({ state: 'COMPLETED', result: 55, stats: { nodes: [idOf(agents[1]!)] } });
  });

  it('--retries re-runs a task that throws; without it the job fails', async () => {
    const ok = await cli(['submit', fixture('flaky.ts'), '--json', '--retries', '1']);
    expect(JSON.parse(ok.stdout)).toMatchObject({ state: 'COMPLETED', result: 60, stats: { retries: 3 } });
    const failed = await cli(['submit', fixture('flaky.ts'), '--json']);
    expect(JSON.parse(failed.stdout).error).toContain('flaky first attempt');
    const history = JSON.parse((await cli(['jobs', '--json'])).stdout);
    const retried = history.find((j: { jobId: string }) => j.jobId === JSON.parse(ok.stdout).jobId);
    // Three tasks run twice each, and the reduce step once.
    expect(retried).toMatchObject({ state: 'COMPLETED', tasksDone: 3, attempts: 7 });
  });

  it('a task past --time-limit ends its job as TIMEOUT', async () => {
    const r = await cli(['submit', fixture('forever.ts'), '--json', '--time-limit', '500ms']);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ state: 'TIMEOUT' });
  });

  it('afterok: waits for the other job, runs after it completes, and is cancelled if it fails', async () => {
    // The first job ends when the test opens its gate: a loaded machine's slow CLI calls cannot miss the wait.
    const gate = join(mkdtempSync(join(tmpdir(), 'picompute-gate-')), 'open');
    const first = JSON.parse((await cli(['submit', fixture('gated.ts'), '--no-wait', '--json', '--arg', 'n=4', '--arg', `gate=${gate}`])).stdout).jobId;
    const after = JSON.parse((await cli(['submit', fixture('word-lengths.ts'), '--no-wait', '--json', '--dependency', `afterok:${first}`])).stdout).jobId;
    const queue = (await cli(['queue'])).stdout;
    expect(queue).toMatch(new RegExp(`^${after}\\s+\\S+\\s+\\S+\\s+PENDING\\(Dependency\\)`, 'm'));
    writeFileSync(gate, '');
    expect((await cli(['result', after, '--json'])).stdout.trim()).toBe('{"a":12,"b":15,"c":6}');

    const bad = JSON.parse((await cli(['submit', fixture('throws.ts'), '--no-wait', '--json'])).stdout).jobId;
    const never = await cli(['submit', fixture('word-lengths.ts'), '--json', '--dependency', `afterok:${bad}`]);
    expect(never.code).toBe(1);
    expect(JSON.parse(never.stdout)).toMatchObject({
      state: 'CANCELLED',
      error: expect.stringContaining(`DEPENDENCY_NEVER_SATISFIED: job ${bad} ended FAILED`),
    });

    const missing = await cli(['submit', fixture('word-lengths.ts'), '--dependency', 'afterok:9999']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('--dependency afterok:9999: no job with id 9999');
    const malformed = await cli(['submit', fixture('word-lengths.ts'), '--dependency', 'after:1']);
    expect(malformed.code).toBe(2);
    expect(malformed.stderr).toContain('--dependency "after:1" is not afterok:JOBID');
  });

  // How fast a cancel frees the cores is a figure for `pnpm bench`; here: that it does, and the workers really stop.
  // The tasks would spin for 10 minutes: if the cancel left them running, the next job could not end before the hang guard.
  it('cancel stops running tasks and frees the cores', async () => {
    const id = JSON.parse((await cli(['submit', fixture('busy.ts'), '--no-wait', '--json', '--arg', 'n=4', '--arg', 'ms=600000'])).stdout).jobId;
    await until('both cores busy', async () =>
      JSON.parse((await cli(['nodes', '--json'])).stdout).every((n: { coresBusy: number }) => n.coresBusy === 1) ? true : undefined,
    );
    const c = await cli(['cancel', id]);
    expect(c.stdout.trim()).toBe(`job ${id} CANCELLED`);
    await until('cores free', async () =>
      JSON.parse((await cli(['nodes', '--json'])).stdout).every((n: { coresBusy: number }) => n.coresBusy === 0) ? true : undefined,
    );
    // The workers really stopped: a new job gets both cores at once.
    const next = await cli(['submit', fixture('slow-square.ts'), '--json', '--arg', 'n=4'], { timeoutMs: 30_000 });
    expect(next.code, next.stderr).toBe(0);
    expect(JSON.parse(next.stdout)).toMatchObject({ state: 'COMPLETED', stats: { nodes: expect.arrayContaining([idOf(agents[0]!), idOf(agents[1]!)]) } });
    const jobs = (await cli(['jobs'])).stdout;
    expect(jobs).toMatch(/^JOBID\s+NAME\s+USER\s+STATE\s+EXIT\s+ELAPSED\s+CPUTIME\s+TASKS\s+ATTEMPTS\s+MAXHEAP$/m);
    expect(jobs).toMatch(new RegExp(`^${id}\\s+busy\\s+\\S+\\s+CANCELLED\\s+1\\s+`, 'm'));
  });

  it('drain stops new tasks on a node, resume allows them again', async () => {
    const node = idOf(agents[0]!);
    expect((await cli(['drain', node])).stdout.trim()).toBe(`node ${node} drained`);
    const drained = JSON.parse((await cli(['submit', fixture('slow-square.ts'), '--json', '--arg', 'n=6'])).stdout);
    expect(drained.stats.nodes).toEqual([idOf(agents[1]!)]);
    expect((await cli(['nodes'])).stdout).toMatch(new RegExp(`^${node}\\s+drained`, 'm'));
    expect((await cli(['resume', node])).stdout.trim()).toBe(`node ${node} idle`);
    const both = JSON.parse((await cli(['submit', fixture('slow-square.ts'), '--json', '--arg', 'n=6'])).stdout);
    expect(both.stats.nodes).toHaveLength(2);
    const unknown = await cli(['drain', 'nosuchnode']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('no node nosuchnode; see `picompute nodes`');
  });

  it('result, logs and cancel of an unknown job id say so (exit 2)', async () => {
    for (const verb of ['result', 'logs', 'cancel']) {
      const r = await cli([verb, '424242']);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('no job with id 424242');
    }
  });

  it('logs prints what tasks logged, tagged with task and node', async () => {
    const id = JSON.parse((await cli(['submit', fixture('counted.ts'), '--json', '--arg', 'n=3', '--arg', 'ms=1'])).stdout).jobId;
    const lines = (await cli(['logs', id])).stdout.trim().split('\n').sort();
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^\[task 0 @ \S+\] ran 0$/);
  });
});

describe.each(STATE_BACKENDS)('sharing the cluster (state in %s)', (backend) => {
  const problem = backendProblem(backend);
  if (problem) return cannotRun(`sharing the cluster, with the state in ${backend}`, problem);
  const state = useStateBackend(backend);
  let agent: Daemon;
  let coordinator: Daemon;
  let client: Client;
  beforeAll(async () => {
    agent = await startDaemon(['agent', '--port', '0', '--cores', '2']);
    coordinator = await startDaemon(['coordinator', '--port', '0', '--agent', loopback(agent), ...state.flags()]);
    await coordinator.waitFor(/agent \S+ up at/);
    client = await connect({ coordinator: loopback(coordinator), security: await loadSecurity({ keyFile: KEY_FILE }) });
  });
  afterAll(async () => {
    client?.close();
    await Promise.all([coordinator, agent].map((d) => d?.stop('SIGKILL')));
  });

  it("two users share the cores half and half, and each user's share is visible", async () => {
    const a = await client.submit(fixture('counted.ts'), { args: { n: '40', ms: '100' }, user: 'alice' });
    const b = await client.submit(fixture('counted.ts'), { args: { n: '40', ms: '100' }, user: 'bob' });
    const shares = await until('both users running', async () => {
      const { shares } = await client.jobs({ active: true });
      return shares.length === 2 && shares.every((s) => s.coresInUse > 0) ? shares : undefined;
    });
    // Averaged over a second of samples: a single one can catch a task between two users' turns.
    const sum = new Map<string, number>();
    for (let i = 0; i < 10; i++) {
      for (const s of (await client.jobs({ active: true })).shares) sum.set(s.user, (sum.get(s.user) ?? 0) + s.share / 10);
      await sleep(100);
    }
    expect(sum.get('alice')).toBeGreaterThan(0.35);
    expect(sum.get('bob')).toBeGreaterThan(0.35);
    expect(shares.map((s) => s.user)).toEqual(['alice', 'bob']);
    await Promise.all([a.cancel(), b.cancel()]);
  });

  it('a small job submitted behind a huge one finishes long before it (backfill)', async () => {
    const huge = await client.submit(fixture('counted.ts'), { args: { n: '200', ms: '50' } });
    await until('the huge job running', async () =>
      (await client.jobs({ active: true })).jobs.find((j) => j.jobId === huge.id && j.state === 'RUNNING' && j.tasksDone > 0) ? true : undefined,
    );
    const small = await client.submit(fixture('word-lengths.ts'));
    expect(await small.result()).toEqual({ a: 12, b: 15, c: 6 });
    // The order is the claim (the small one did not wait for the huge one's 200 tasks); the seconds are `pnpm bench`'s.
    const hugeNow = (await client.jobs({ active: true })).jobs.find((j) => j.jobId === huge.id);
    expect(hugeNow).toMatchObject({ state: 'RUNNING' });
    expect(hugeNow!.tasksDone).toBeLessThan(hugeNow!.tasksTotal);
    await huge.cancel();
  });

  it('within a user, a higher --priority job runs before an earlier one', async () => {
    const blocker = await client.submit(fixture('busy.ts'), { args: { n: '2', ms: '800' } });
    await sleep(200);
    const low = await client.submit(fixture('counted.ts'), { args: { n: '30', ms: '20' } });
    const high = await client.submit(fixture('counted.ts'), { args: { n: '30', ms: '20' }, priority: 10 });
    await Promise.all([low.done(), high.done(), blocker.done()]);
    const jobs = (await client.jobs({ finished: true })).jobs;
    const end = (id: string) => jobs.find((j) => j.jobId === id)!.endedAtMs;
    expect(end(high.id)).toBeLessThan(end(low.id));
  });
});

// SQLite only: these are about the file SQLite opens under --state-dir.
describe('state dir problems stop the coordinator with a message, and nothing is deleted', () => {
  it('a state dir that cannot be written', async () => {
    const r = await runCli(['coordinator', '--port', '0', '--host', '127.0.0.1', '--state-dir', '/etc/hostname/state'], { timeoutMs: 10_000 });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('state dir /etc/hostname/state is not writable');
  });

  it('a database written by a newer picompute', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'picompute-newer-'));
    const db = new Database(join(dir, 'picompute.db'));
    db.exec('CREATE TABLE jobs (id INTEGER PRIMARY KEY)');
    db.pragma('user_version = 99');
    db.close();
    const before = createHash('sha256')
      .update(await readFile(join(dir, 'picompute.db')))
      .digest('hex');
    const r = await runCli(['coordinator', '--port', '0', '--host', '127.0.0.1', '--state-dir', dir], { timeoutMs: 10_000 });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('was written by a newer picompute (schema 99; this one knows 4); upgrade picompute');
    expect(
      createHash('sha256')
        .update(await readFile(join(dir, 'picompute.db')))
        .digest('hex'),
    ).toBe(before);
  });

  it('a corrupt database file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'picompute-corrupt-'));
    const garbage = Buffer.concat([Buffer.from('SQLite format 3\0'), Buffer.alloc(4096, 0x5a)]);
    await writeFile(join(dir, 'picompute.db'), garbage);
    const r = await runCli(['coordinator', '--port', '0', '--host', '127.0.0.1', '--state-dir', dir], { timeoutMs: 10_000 });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/state database \S+ (is corrupt|cannot be read).*it is left as it is/);
    expect(Buffer.compare(await readFile(join(dir, 'picompute.db')), garbage)).toBe(0);
  });
});

/**
 * What Slurm, GNU parallel and Dask users expected (issue #12), each through
 * the real command or the real SDK against a real cluster.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prepareJob } from '@picompute/sdk/client';
import { fixture, runCli, startDaemon, useLocalClient, loopback } from './support/cli.js';
import type { Daemon } from './support/cli.js';
import { maxOverlap, spansDir } from './support/spans.js';
import { cannotRun } from './support/requirements.js';
import { backendProblem, STATE_BACKENDS, useStateBackend } from './support/state-backends.js';

describe('--max-running N (Slurm’s --array=…%N)', () => {
  const local = useLocalClient(4);

  it('never runs more than N of the job’s tasks at once, and still runs them all', async () => {
    const dir = spansDir();
    const job = await local.client.submit(fixture('spans.ts'), { args: { n: '12', dir }, maxRunning: 2 });
    let mostInFlight = 0;
    for await (const ev of job.events()) mostInFlight = Math.max(mostInFlight, ev.tasksRunning);
    expect(await job.result()).toEqual(Array.from({ length: 12 }, (_, i) => i * i));
    expect(mostInFlight).toBeLessThanOrEqual(2);
    expect(maxOverlap(dir)).toEqual({ runs: 12, max: 2 });
    // The same job without the cap fills the four threads: the check above can fail.
    const free = spansDir();
    // Tasks of a second each: on a loaded machine 150 ms ones may end before the fourth thread starts.
    await (await local.client.submit(fixture('spans.ts'), { args: { n: '8', dir: free, ms: '1000' } })).result();
    expect(maxOverlap(free).max).toBeGreaterThan(2);
  });

  it('works from the command line, and refuses a cap that is not a whole number ≥ 1', async () => {
    const dir = spansDir();
    const ok = await runCli(['submit', fixture('spans.ts'), '--local', '--json', '--max-running', '1', '--arg', 'n=4', '--arg', `dir=${dir}`]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout).result).toEqual([0, 1, 4, 9]);
    expect(maxOverlap(dir)).toEqual({ runs: 4, max: 1 });
    for (const bad of ['0', 'two', '1.5']) {
      const r = await runCli(['submit', fixture('spans.ts'), '--local', '--max-running', bad]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`--max-running must be a whole number ≥ 1, not "${bad}"`);
    }
  });
});

describe.each(STATE_BACKENDS)('a job that failed halfway, on real daemons (a one-core agent, so tasks run in order; state in %s)', (backend) => {
  const problem = backendProblem(backend);
  if (problem) return cannotRun(`a job that failed halfway, with the state in ${backend}`, problem);
  const state = useStateBackend(backend);
  let coordinator: Daemon;
  let agent: Daemon;
  let jobId: string;
  const dir = spansDir();
  const fixed = join(dir, 'fixed');
  const cli = (args: string[]) => runCli([...args, '--coordinator', loopback(coordinator)]);

  beforeAll(async () => {
    agent = await startDaemon(['agent', '--port', '0', '--cores', '1']);
    coordinator = await startDaemon(['coordinator', '--port', '0', '--agent', loopback(agent), ...state.flags()]);
    await coordinator.waitFor(/agent \S+ up at/);
    const r = await cli([
      'submit',
      fixture('fails-until-fixed.ts'),
      '--json',
      '--arg',
      'n=8',
      '--arg',
      'fail=3',
      '--arg',
      `dir=${dir}`,
      '--arg',
      `fixed=${fixed}`,
    ]);
    expect(r.code, r.stderr).toBe(1);
    ({ jobId } = JSON.parse(r.stdout));
    expect(JSON.parse(r.stdout).state).toBe('FAILED');
  });
  afterAll(async () => {
    await coordinator?.stop();
    await agent?.stop();
  });

  it('`tasks ID` shows each task: the three that completed, the one that failed, the rest cancelled', async () => {
    const r = await cli(['tasks', jobId, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const tasks = JSON.parse(r.stdout) as { index: number; state: string; node: string; attempt: number; runMs: number; startedAtMs: number }[];
    expect(tasks.map((t) => t.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(tasks.slice(0, 4).map((t) => t.state)).toEqual(['COMPLETED', 'COMPLETED', 'COMPLETED', 'FAILED']);
    expect(tasks.slice(4).every((t) => t.state === 'CANCELLED')).toBe(true);
    for (const t of tasks.slice(0, 4)) {
      expect(t).toMatchObject({ node: expect.stringMatching(/\S/), attempt: 1 });
      expect(t.runMs).toBeGreaterThanOrEqual(150);
      expect(t.startedAtMs).toBeGreaterThan(Date.now() - 120_000);
    }
    expect(tasks.at(-1)).toMatchObject({ attempt: 0, node: '' });
    const text = await cli(['tasks', jobId]);
    expect(text.stdout.split('\n')[0]).toMatch(/^INDEX\s+STATE\s+NODE\s+ATTEMPT\s+START\s+RUNTIME\s+HEAP$/);
    expect(text.stdout).toMatch(/^3\s+FAILED\s+\S+\s+1\s+\d\d:\d\d:\d\d\s+\S+s/m);
  });

  it('`tasks` of an unknown job says so (exit 2)', async () => {
    const r = await cli(['tasks', '999']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('no job with id 999');
  });

  it('`result --partial` prints the outputs that finished, by index, and lists the missing ones', async () => {
    const json = await cli(['result', jobId, '--partial', '--json']);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toEqual({ jobId, state: 'FAILED', values: { 0: 0, 1: 1, 2: 4 }, missing: [3, 4, 5, 6, 7] });
    const text = await cli(['result', jobId, '--partial']);
    expect(text.stdout).toContain('Map(3) { 0 => 0, 1 => 1, 2 => 4 }');
    expect(text.stderr).toContain(`job ${jobId} FAILED: 3 of 8 tasks finished; missing: 3-7`);
  });

  it('`result --partial` of an unknown job, or of one still running, says so (exit 2)', async () => {
    const unknown = await cli(['result', '999', '--partial']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('no job with id 999');
    const running = JSON.parse(
      (await cli(['submit', fixture('spans.ts'), '--no-wait', '--json', '--arg', 'n=4', '--arg', 'ms=3000', '--arg', `dir=${spansDir()}`])).stdout,
    ).jobId;
    const r = await cli(['result', running, '--partial']);
    expect(r.code).toBe(2);
    // Meanwhile `tasks` shows the live job: the one-core agent holds two tasks (one running, one queued), the rest wait.
    const live = JSON.parse((await cli(['tasks', running, '--json'])).stdout) as { state: string; node: string; runMs: number }[];
    expect(live.map((t) => t.state)).toEqual(['RUNNING', 'RUNNING', 'PENDING', 'PENDING']);
    expect(live[0]!.node).not.toBe('');
    expect(r.stderr).toMatch(new RegExp(`job ${running} is still (PENDING|RUNNING); --partial is for a job that ended: wait for it .* or cancel it`));
    await cli(['cancel', running]);
  });

  it('`requeue ID --failed` runs only the tasks that did not succeed, under the same id, and the job ends with its whole result', async () => {
    const ranBefore = readFileSync(join(dir, 'runs'), 'utf8');
    writeFileSync(fixed, '');
    const r = await cli(['requeue', jobId, '--failed']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`job ${jobId} requeued: 5 of 8 tasks run again, 3 outputs kept`);
    const result = await cli(['result', jobId, '--json']);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual([0, 1, 4, 9, 16, 25, 36, 49]);
    const ranAgain = readFileSync(join(dir, 'runs'), 'utf8').slice(ranBefore.length).trim().split('\n').map(Number);
    expect(ranAgain.sort()).toEqual([3, 4, 5, 6, 7]);
    const tasks = JSON.parse((await cli(['tasks', jobId, '--json'])).stdout) as { state: string }[];
    expect(tasks.every((t) => t.state === 'COMPLETED')).toBe(true);
  });

  it('`requeue` refuses a COMPLETED job, an unknown one, and a missing --failed (exit 2)', async () => {
    const completed = await cli(['requeue', jobId, '--failed']);
    expect(completed.code).toBe(2);
    expect(completed.stderr).toContain(`job ${jobId} COMPLETED: every task succeeded, so there is nothing to run again`);
    const unknown = await cli(['requeue', '999', '--failed']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('no job with id 999');
    const noFlag = await cli(['requeue', jobId]);
    expect(noFlag.code).toBe(2);
    expect(noFlag.stderr).toContain(`say so with picompute requeue ${jobId} --failed`);
  });
});

describe('results as they finish', () => {
  const local = useLocalClient(2);

  it('job.outputs() yields every map output once, as its task finishes, before the job ends', async () => {
    const job = await local.client.submit(fixture('spans.ts'), { args: { n: '6', ms: '300', dir: spansDir() } });
    const seen: { index: number; value: number; at: number }[] = [];
    for await (const { index, value } of job.outputs<number>()) seen.push({ index, value, at: Date.now() });
    expect(seen.map((o) => o.index).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5]);
    for (const o of seen) expect(o.value).toBe(o.index * o.index);
    // Two threads, 300 ms a task: the first outputs came ≥ 300 ms before the last, not all at the end.
    expect(seen.at(-1)!.at - seen[0]!.at).toBeGreaterThanOrEqual(250);
    // A second call after the end replays them all from the stored outputs.
    const again: number[] = [];
    for await (const { index } of job.outputs()) again.push(index);
    expect(again).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('job.outputs() of a failing job yields what finished, then throws JobFailedError', async () => {
    const dir = spansDir();
    // Task 3 fails only after the others have surely finished (on 2 cores, tasks 2 and 3 run side by side).
    const job = await local.client.submit(fixture('fails-until-fixed.ts'), {
      args: { n: '4', fail: '3', ms: '50', failMs: '600', dir, fixed: join(dir, 'never') },
    });
    const seen: number[] = [];
    await expect(async () => {
      for await (const { index } of job.outputs()) seen.push(index);
    }).rejects.toThrow(/task 3 fails until/);
    expect(seen.sort()).toEqual([0, 1, 2]);
  });

  it('submit --stream prints one JSON line per output, a fold job’s result last; --stream with --no-wait is refused', async () => {
    const r = await runCli(['submit', fixture('slow-square.ts'), '--local', '--stream', '--arg', 'n=5']);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.slice(0, 5).sort((a, b) => a.index - b.index)).toEqual([0, 1, 2, 3, 4].map((i) => ({ index: i, value: i * i })));
    expect(lines[5]).toEqual({ result: 0 + 1 + 4 + 9 + 16 });
    const bad = await runCli(['submit', fixture('slow-square.ts'), '--local', '--stream', '--no-wait']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--stream prints outputs as they finish, so it cannot go with --no-wait');
  });
});

describe('data shared by every task, sent once (defineJob({ shared }))', () => {
  it('reaches every task as ctx.shared, is cached once per node by its hash, and is not in the inputs', async () => {
    const cacheDir = spansDir();
    const agent = await startDaemon(['agent', '--port', '0', '--cores', '2', '--cache-dir', cacheDir]);
    const coordinator = await startDaemon(['coordinator', '--port', '0', '--agent', loopback(agent)]);
    try {
      await coordinator.waitFor(/agent \S+ up at/);
      const submit = () =>
        runCli([
          'submit',
          fixture('shared-table.ts'),
          '--json',
          '--coordinator',
          loopback(coordinator),
          '--arg',
          'size=200000',
          '--arg',
          'n=40',
          '--arg',
          'label=t',
        ]);
      const first = await submit();
      expect(first.code, first.stderr).toBe(0);
      expect(JSON.parse(first.stdout).result).toEqual(Array.from({ length: 40 }, (_, i) => `t${i * 21}`));
      const sharedFiles = () => readdirSync(cacheDir).filter((f) => f.endsWith('.shared'));
      // 1.6 MB of table: one file on the node, named by the sha256 of its bytes.
      expect(sharedFiles()).toHaveLength(1);
      const [file] = sharedFiles();
      // What a submit sends per task is the index alone; the table goes once, as the shared blob.
      const prepared = await prepareJob(fixture('shared-table.ts'), { args: { size: '200000', n: '40', label: 't' } });
      expect(prepared.packedBytes).toBeLessThan(40 * 16);
      expect(prepared.shared?.hash).toBe(file!.replace('.shared', ''));
      const bytes = readFileSync(join(cacheDir, file!));
      expect(bytes.length).toBeGreaterThan(1_600_000);
      expect(createHash('sha256').update(bytes).digest('hex')).toBe(file!.replace('.shared', ''));
      const written = statSync(join(cacheDir, file!)).mtimeMs;
      // The same value for a second job: the node's copy is used as it is.
      expect((await submit()).code).toBe(0);
      expect(sharedFiles()).toEqual([file]);
      expect(statSync(join(cacheDir, file!)).mtimeMs).toBe(written);
    } finally {
      await coordinator.stop();
      await agent.stop();
    }
  });

  it('refuses a shared value over the limit, naming its size and the limit (exit 2)', async () => {
    const r = await runCli(['submit', fixture('shared-too-big.ts'), '--local']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/shared\(args\) is 65\.0 MiB encoded; the limit is 64\.0 MiB/);
  });
});

/**
 * `picompute submit` on the embedded local cluster, run as a user runs it:
 * a child process, real gRPC on loopback, real worker threads.
 */
import { copyFile, mkdtemp, mkdir, utimes, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { CLI, childEnv, fixture, runCli } from './support/cli.js';

const EXAMPLE = new URL('../examples/monte-carlo-pi.ts', import.meta.url).pathname;

describe('submit on the embedded cluster', () => {
  it('a reader that goes away early (| head) ends the command quietly, exit 0, no stack', async () => {
    const child = spawn(process.execPath, [CLI, 'submit', fixture('concat.ts'), '--arg', 'n=100000', '--json'], {
      env: childEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    // Like `head -c 20`: read a little, then close our end of the pipe.
    child.stdout.once('data', () => child.stdout.destroy());
    const code = await new Promise((resolve) => child.on('close', resolve));
    expect(stderr).not.toMatch(/EPIPE|Unhandled|\n\s+at /);
    expect(code).toBe(0);
  });

  it('prints the Monte Carlo estimate of π and a summary line', async () => {
    const r = await runCli(['submit', EXAMPLE, '--arg', 'tasks=8', '--arg', 'points=200000']);
    expect(r.stderr).toContain('embedded local cluster');
    expect(r.code).toBe(0);
    const pi = Number(r.stdout.trim());
    expect(Math.abs(pi - Math.PI)).toBeLessThan(0.01);
    expect(r.stderr).toMatch(/job \d+ completed: 8 tasks on \d+ cores in [\d.]+ s \([\d.]+ tasks\/s\)/);
  });

  it('gives the same answer as the loop run in this process (W2 inputs, exact)', async () => {
    const { countHits } = await import('../examples/monte-carlo-pi.ts');
    let hits = 0;
    for (let i = 0; i < 6; i++) hits += countHits({ seed: i + 1, points: 50_000 });
    const r = await runCli(['submit', EXAMPLE, '--json', '--arg', 'tasks=6', '--arg', 'points=50000']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ state: 'COMPLETED', result: (4 * hits) / (6 * 50_000), stats: { tasks: 6 } });
    expect(out.jobId).toMatch(/^\d+$/);
    expect(out.stats.wallMs).toBeGreaterThan(0);
    // The client's time before the job's own wall: preparing (bundle, inputs) and submitting, each within the whole.
    expect(out.stats.prepareMs).toBeGreaterThan(0);
    expect(out.stats.submitMs).toBeGreaterThanOrEqual(0);
    expect(out.stats.prepareMs + out.stats.submitMs).toBeLessThanOrEqual(out.stats.wallMs);
  });

  it('runs a job file from a folder with no package.json, importing a local module', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'picompute-job-'));
    await mkdir(join(dir, 'helpers'));
    await copyFile(fixture('values.ts'), join(dir, 'job.ts'));
    await copyFile(fixture('helpers/double.ts'), join(dir, 'helpers/double.ts'));
    const r = await runCli(['submit', 'job.ts', '--json', '--arg', 'n=3'], { cwd: dir });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.result).toHaveLength(3);
    expect(out.result[2]).toEqual({
      i: 4,
      big: '200000000000000000001',
      when: new Date(1_700_000_000_002).toISOString(),
      tags: ['t2'],
      counts: { k2: 2 },
      floats: [1],
      raw: [2],
      nothing: null,
      aborted: false,
    });
  });

  it('bundles npm packages the job imports from its own folder', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'picompute-npm-'));
    await mkdir(join(dir, 'node_modules/left-pad-ish'), { recursive: true });
    await writeFile(join(dir, 'node_modules/left-pad-ish/package.json'), JSON.stringify({ name: 'left-pad-ish', version: '1.0.0', main: 'index.js' }));
    // CommonJS that requires a built-in: the bundle must give it a real require.
    await writeFile(
      join(dir, 'node_modules/left-pad-ish/index.js'),
      "const os = require('node:os'); module.exports = (s, n) => String(s).padStart(n, '0') + (os.EOL === '\\n' ? '' : '?');",
    );
    await writeFile(
      join(dir, 'job.ts'),
      "import { defineJob } from '@picompute/sdk';\nimport pad from 'left-pad-ish';\n" +
        'export default defineJob({ inputs: () => [1, 22], map: (x: number) => pad(x, 4) });\n',
    );
    const r = await runCli(['submit', join(dir, 'job.ts'), '--json']);
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout).result).toEqual(['0001', '0022']);
  });

  it('an edited job file (or module it imports) is bundled again, never served stale from the bundle cache', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'picompute-edit-'));
    const job = join(dir, 'job.ts');
    const write = (file: string, text: string, mtime: number) => writeFile(file, text).then(() => utimes(file, mtime, mtime));
    await write(join(dir, 'k.ts'), 'export const k = 2;\n', 1_000);
    await write(
      job,
      "import { defineJob } from '@picompute/sdk';\nimport { k } from './k.ts';\nexport default defineJob({ inputs: () => [1], map: (x: number) => x * k });\n",
      1_000,
    );
    const run = async () => JSON.parse((await runCli(['submit', job, '--json', '--local'])).stdout).result;
    expect(await run()).toEqual([2]);
    expect(await run()).toEqual([2]);
    await write(join(dir, 'k.ts'), 'export const k = 3;\n', 2_000);
    expect(await run()).toEqual([3]);
  });

  it('off a terminal (stderr a pipe, as in CI) prints a plain progress line every 5 s and never draws the bar', async () => {
    // Ten rounds of 0.7 s sleeps on every core of the embedded cluster: about 7 s, enough for a 5 s line on any machine.
    const n = availableParallelism() * 10;
    const r = await runCli(['submit', fixture('counted.ts'), '--local', '--arg', `n=${n}`, '--arg', 'ms=700']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(new RegExp(`^job \\d+: \\d+/${n} tasks · [\\d.]+/s · ETA \\S+$`, 'm'));
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the test looks for the ESC that starts a terminal control sequence
    expect(r.stderr).not.toMatch(/[\r\x1b█]/);
  });

  it('shows the lines tasks log, tagged with the task index', async () => {
    const r = await runCli(['submit', fixture('values.ts'), '--arg', 'n=2']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/\[task 0 @ local\] task 0 attempt 1 sees 0/);
    expect(r.stderr).toMatch(/\[task 1 @ local\] task 1 attempt 1 sees 1/);
  });
});

describe('a job that goes wrong on the cluster', () => {
  it('a task that throws fails the job with its index, input, message and stack in the job file', async () => {
    const r = await runCli(['submit', fixture('throws.ts')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('FAILED');
    expect(r.stderr).toContain('task 2 failed');
    expect(r.stderr).toContain('input: { n: 3 }');
    expect(r.stderr).toContain('Error: bad value 3');
    expect(r.stderr).toMatch(/at (Object\.)?map \(\/.*test\/fixtures\/throws\.ts:6:\d+\)/);
  });

  it('--json reports the failure as state FAILED with the error', async () => {
    const r = await runCli(['submit', fixture('throws.ts'), '--json']);
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout);
    expect(out.state).toBe('FAILED');
    expect(out.error).toContain('bad value 3');
  });

  it('a task that never returns is stopped by --time-limit, naming the limit', async () => {
    // A run that outlives the guard is killed (code null) and fails the exit-code check: a hang guard, not a benchmark.
    const r = await runCli(['submit', fixture('forever.ts'), '--time-limit', '1s'], { timeoutMs: 30_000 });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('task 2 failed');
    expect(r.stderr).toContain('exceeded its time limit of 1s');
  });

  it('a hanging task inside a large batch of tiny tasks is the one blamed', async () => {
    const r = await runCli(['submit', fixture('hang-late.ts'), '--time-limit', '1s', '--json', '--arg', 'n=3000', '--arg', 'hang=2500']);
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout);
    expect(out.error).toMatch(/^task 2500 failed on local \(attempt 1\)\n {2}input: 2500\n {2}exceeded its time limit of 1s/);
  });

  it('an input or output too large for one message is refused with the size and the fix', async () => {
    const input = await runCli(['submit', fixture('too-big.ts'), '--arg', 'big=input']);
    expect(input.code).toBe(2);
    expect(input.stderr).toContain("input 0 is 70.0 MiB encoded; a task's input must stay under 63.0 MiB: split the work into more, smaller tasks");
    const output = await runCli(['submit', fixture('too-big.ts'), '--json']);
    expect(output.code).toBe(1);
    expect(JSON.parse(output.stdout).error).toContain("its output is 70.0 MiB encoded; a task's output must stay under 63 MiB");
  });

  it('a task that allocates without bound is stopped by its heap limit', async () => {
    const r = await runCli(['submit', fixture('memory-hog.ts'), '--mem-per-task', '64M']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('task 1 failed');
    expect(r.stderr).toContain('ran out of memory');
    expect(r.stderr).toContain('64 MiB per task');
  });
});

describe('mistakes caught before anything is submitted (exit 2)', () => {
  const cases: [string, string[], RegExp][] = [
    ['a missing job file', ['submit', '/nonexistent/job.ts'], /job file not found: \/nonexistent\/job\.ts/],
    ['a syntax error, with file:line:col', ['submit', fixture('broken-syntax.ts')], /broken-syntax\.ts:5:26: Unexpected ","/],
    ['no default export', ['submit', fixture('no-default.ts')], /has no default export/],
    ['a default export not made by defineJob', ['submit', fixture('plain-object.ts')], /not made by defineJob/],
    ['a job without map', ['submit', fixture('no-map.ts')], /has no `map` function/],
    ['a malformed --arg', ['submit', fixture('values.ts'), '--arg', 'oops'], /--arg "oops" is not key=value/],
    ['a malformed --time-limit', ['submit', fixture('values.ts'), '--time-limit', 'soon'], /"soon" is not a duration/],
    ['a malformed --mem-per-task', ['submit', fixture('values.ts'), '--mem-per-task', '12Q'], /"12Q" is not a size/],
  ];
  for (const [what, args, message] of cases) {
    it(what, async () => {
      const r = await runCli(args);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toContain('embedded local cluster');
      expect(r.code).toBe(2);
    });
  }

  it('a coordinator that does not answer: a clear message, not a hang', async () => {
    const r = await runCli(['submit', fixture('values.ts'), '--coordinator', '127.0.0.1:1'], { timeoutMs: 30_000 });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('cannot reach a picompute coordinator at 127.0.0.1:1');
  });
});

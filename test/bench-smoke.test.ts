/**
 * The benchmark suite in its quick form: the harness works end to end and
 * every workload's answer is right. Speed is not judged here (that is
 * `pnpm bench`'s table), only that each workload ran and checked its answer.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const RUN = fileURLToPath(new URL('../benchmarks/run.mjs', import.meta.url));

it('pnpm bench -- --quick runs every workload and checks its answers', async () => {
  const code = await new Promise<number | null>((resolve) => {
    const proc = spawn(process.execPath, [RUN, '--quick'], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, PICOMPUTE_MDNS: 'off' } });
    let err = '';
    proc.stderr.on('data', (d) => (err += d));
    proc.on('exit', (c) => {
      if (c !== 0) console.error(err);
      resolve(c);
    });
  });
  expect(code).toBe(0);
  const report = JSON.parse(await readFile(fileURLToPath(new URL('../benchmarks/results/quick.json', import.meta.url)), 'utf8'));
  const workloads = new Set(report.rows.map((r: { workload: string }) => r.workload.split(' ')[0]));
  for (const w of ['codec', 'W1', 'W2', 'W3', 'W4', 'W5', 'W6', 'W7', 'W8', 'queue', 'scale', 'SD-card']) expect(workloads).toContain(w);
  expect(report.rows.filter((r: { system: string }) => r.system === 'ERROR')).toEqual([]);
  const w6 = report.rows.find((r: { workload: string; system: string }) => r.workload.startsWith('W6') && r.system.includes('SIGKILL'));
  expect(w6.answer).toBeCloseTo(Math.PI, 1);
  // The kill hit a running task: it ran again elsewhere (an exact answer alone is also what no kill at all gives).
  expect(w6.reruns).toBeGreaterThan(0);
}, 240_000);

it('a --runs, --repeat or --w8-mb that is not a whole number of 1 or more stops the bench before it starts, naming the flag', () => {
  for (const [flag, value, what] of [
    ['--runs', '1.5', 'runs'],
    ['--repeat', '0', 'repeats'],
    ['--w8-mb', 'abc', 'MB'],
  ]) {
    const r = spawnSync(process.execPath, [RUN, flag!, value!], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr.trim()).toBe(`${flag} takes a whole number of ${what}, 1 or more (got ${value})`);
  }
});

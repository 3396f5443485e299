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
  // W8 says where its CPU went, beside GNU sort's: the parts add up, and the worker threads did the sorting.
  const w8 = (system: string) => report.rows.find((r: { workload: string; system: string }) => r.workload === 'W8 sort' && r.system.startsWith(system));
  const ours = w8('picompute');
  expect(ours.workersMs).toBeGreaterThan(0);
  expect(ours.workersMs + ours.mainMs + ours.helpersMs).toBeCloseTo(ours.cpuMs, -1);
  expect(w8('GNU sort').cpuMs).toBeGreaterThanOrEqual(0);
  expect(
    report.notes.some((n: string) => /^W8 CPU: picompute [\d.]+ s \(its 2 worker threads [\d.]+, main thread [\d.]+, .*against GNU sort's [\d.]+ s/.test(n)),
  ).toBe(true);
}, 240_000);

it("W8's part lines become GNU sort's record lines in place, a line of several records (a key the input has more than once) among them", async () => {
  const { recordLines } = await import('../benchmarks/workloads/w8-sort.mjs');
  const payload = (c: string) => c.repeat(89);
  // Key, TAB, payloads joined by TABs: a line a key, as a part's text has them.
  const line = (k: string, ...cs: string[]) => [k.repeat(10), ...cs.map(payload)].join('\t');
  const part = [line('A', 'a'), line('B', 'b', 'c'), line('C', 'd'), line('D', 'e', 'f', 'g'), line('E', 'h')];
  const lines = (recordLines(Buffer.from(`${part.join('\n')}\n`, 'latin1')) as Buffer).toString('latin1').split('\n');
  expect(lines).toEqual([...['Aa', 'Bb', 'Bc', 'Cd', 'De', 'Df', 'Dg', 'Eh'].map(([k, c]) => `${k!.repeat(10)}${payload(c!)}`), '']);
});

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

/**
 * What Slurm, GNU parallel and Dask users expected (issue #12), each through
 * the real command or the real SDK against a real cluster.
 */
import { describe, expect, it } from 'vitest';
import { fixture, runCli, useLocalClient } from './support/cli.js';
import { maxOverlap, spansDir } from './support/spans.js';

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
    await (await local.client.submit(fixture('spans.ts'), { args: { n: '12', dir: free } })).result();
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

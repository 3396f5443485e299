/** Reads what test/fixtures/marked-runs.ts leaves: how many times each task started. */
import { mkdtempSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixture } from './cli.js';

/** A fresh folder for the markers (world-writable is not needed: agents run as the test's user). */
export function markerDir(): string {
  return mkdtempSync(join(tmpdir(), 'picompute-runs-'));
}

/** Runs per task index, for tasks 0…n-1. */
export function runsPerTask(dir: string, n: number): number[] {
  const runs = new Array<number>(n).fill(0);
  for (const name of readdirSync(dir)) runs[Number(name.split('.')[0])]!++;
  return runs;
}

/** How long a run of task `i` takes in test/fixtures/marked-runs.ts, given its `ms` arg. */
export const runMs = (i: number, ms: number) => ms + (i % 3) * 500;

/** When each task's first run started (its first marker's mtime), ms since the epoch; NaN for a task that never ran. */
export function firstStarts(dir: string, n: number): number[] {
  const starts = new Array<number>(n).fill(Number.NaN);
  for (const name of readdirSync(dir)) {
    const i = Number(name.split('.')[0]);
    const t = statSync(join(dir, name)).mtimeMs;
    if (!(t >= starts[i]!)) starts[i] = t;
  }
  return starts;
}

/**
 * `picompute submit` arguments (without the coordinator) for a job of `n`
 * marked tasks of `ms` each, leaving their markers in `dir`, not waiting for it;
 * `plus` is added to every result.
 */
export function submitMarkedRuns(o: { n: number; ms: number; dir: string; plus?: number }): string[] {
  const plus = o.plus === undefined ? [] : ['--arg', `plus=${o.plus}`];
  return ['submit', fixture('marked-runs.ts'), '--no-wait', '--json', '--arg', `n=${o.n}`, '--arg', `ms=${o.ms}`, ...plus, '--arg', `dir=${o.dir}`];
}

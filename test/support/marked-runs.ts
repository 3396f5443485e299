/** Reads what test/fixtures/marked-runs.ts leaves: how many times each task started. */
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

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

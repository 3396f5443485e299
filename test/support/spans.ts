/** Reads what test/fixtures/spans.ts wrote: how many tasks ran at the same moment, at most. */
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const spansDir = () => mkdtempSync(join(tmpdir(), 'picompute-spans-'));

export function maxOverlap(dir: string): { runs: number; max: number } {
  const edges: [number, number][] = [];
  const files = readdirSync(dir);
  for (const f of files) {
    const { start, end } = JSON.parse(readFileSync(join(dir, f), 'utf8')) as { start: number; end: number };
    edges.push([start, 1], [end, -1]);
  }
  // Ends before starts at the same millisecond: a task that ended as another began did not overlap it.
  edges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let now = 0;
  let max = 0;
  for (const [, d] of edges) max = Math.max(max, (now += d));
  return { runs: files.length, max };
}

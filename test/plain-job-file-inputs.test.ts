/**
 * A plain (not keyed) job may leave its inputs to input files, as the MapReduce
 * issue's API lets a keyed job do: `submit --input` cuts the files into chunks
 * and each chunk is one map input. Without either, the submit says what to add.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { fixture, runCli } from './support/cli.js';

describe('a fold job without inputs(args)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'picompute-plain-input-'));
    await writeFile(join(dir, 'a.txt'), `${Array.from({ length: 30_000 }, (_, i) => `line ${i}`).join('\n')}\n`);
    await writeFile(join(dir, 'b.txt'), 'one\ntwo\nthree\n');
  });

  it('runs over the chunks of --input files: every line counted once, across many chunks', async () => {
    const r = await runCli(['submit', fixture('file-inputs/line-lengths.ts'), '--local', '--input', dir, '--split-size', '16K', '--json']);
    expect(r.stderr).not.toContain('Error');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.result).toBe(30_003);
    expect(out.stats.tasks).toBeGreaterThan(10);
  });

  it('without --input: a clear error naming both ways out, exit 2', async () => {
    const r = await runCli(['submit', fixture('file-inputs/line-lengths.ts'), '--local']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('has no `inputs` function and no input files were given');
    expect(r.stderr).toContain('--input');
  });
});

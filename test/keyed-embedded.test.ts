/**
 * Keyed jobs (reduceByKey) on the embedded local cluster, run as a user runs
 * them: `picompute submit --input … [--out DIR]` in a child process, real
 * files cut into chunks, real runs on the agent's disk, compared with the
 * same answer computed plainly here (MIT 6.5840's wc and indexer).
 */
import { mkdtemp, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { fixture, runCli } from './support/cli.js';

const SORT_EXAMPLE = new URL('../examples/sort-records.ts', import.meta.url).pathname;

const WORDS = ['alpha', 'beta', 'Gamma', 'delta', 'epsilon', 'zeta', 'eta', 'theta', 'iota', 'kappa', 'lambda', 'mu', 'Nu', 'xi', 'omicron', 'pi'];

/** Deterministic text: a few hundred KB over several files and a subfolder. */
async function makeCorpus(dir: string): Promise<Map<string, string>> {
  const docs = new Map<string, string>();
  let seed = 7;
  const next = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) % 1_000_000;
  for (const name of ['a.txt', 'b.txt', 'sub/c.txt', 'sub/deeper/d.txt']) {
    const lines: string[] = [];
    const words = name === 'b.txt' ? WORDS.slice(0, 6) : WORDS;
    for (let l = 0; l < 4000; l++) {
      const n = 1 + (next() % 12);
      lines.push(Array.from({ length: n }, () => `${words[next() % words.length]}${next() % 50 === 0 ? next() % 97 : ''}`).join(next() % 3 ? ' ' : ', '));
    }
    docs.set(name, `${lines.join('\n')}\n`);
  }
  for (const [name, text] of docs) {
    await mkdir(join(dir, name, '..'), { recursive: true });
    await writeFile(join(dir, name), text);
  }
  return docs;
}

const wordsOf = (text: string) => text.split(/[^A-Za-z]+/).filter(Boolean);
const byKey = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

async function readParts(dir: string): Promise<{ names: string[]; lines: string[][] }> {
  const names = (await readdir(dir)).sort();
  const lines: string[][] = [];
  for (const n of names) lines.push((await readFile(join(dir, n), 'utf8')).split('\n').filter(Boolean));
  return { names, lines };
}

describe('keyed jobs on the embedded cluster', () => {
  let root: string;
  let input: string;
  let docs: Map<string, string>;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'picompute-keyed-'));
    input = join(root, 'in');
    docs = await makeCorpus(input);
  });

  it('wc: --out writes one sorted part per partition, equal to a plain count', async () => {
    const out = join(root, 'wc-out');
    const r = await runCli(['submit', fixture('keyed/wc.ts'), '--local', '--input', input, '--split-size', '64K', '--out', out], { timeoutMs: 60_000 });
    expect(r.stderr).toMatch(/job \d+ completed: .* keys in 3 parts under /);
    expect(r.code).toBe(0);
    const expected = new Map<string, number>();
    for (const text of docs.values()) for (const w of wordsOf(text)) expected.set(w, (expected.get(w) ?? 0) + 1);
    const { names, lines } = await readParts(out);
    // The job's own `partitions: 3`; no temporary file left behind.
    expect(names).toEqual(['part-00000', 'part-00001', 'part-00002']);
    const got = new Map<string, number>();
    for (const part of lines) {
      const keys = part.map((l) => l.split('\t')[0]!);
      expect(keys).toEqual([...keys].sort(byKey));
      for (const l of part) {
        const [k, v] = l.split('\t');
        expect(got.has(k!)).toBe(false);
        got.set(k!, Number(v));
      }
    }
    expect(got).toEqual(expected);
  });

  it('indexer: word → "n doc1,doc2" with paths relative to the --input folder, printed as JSON pairs in partition then key order', async () => {
    const r = await runCli(['submit', fixture('keyed/indexer.ts'), '--local', '--input', input, '--split-size', '0', '--partitions', '2'], {
      timeoutMs: 60_000,
    });
    expect(r.code).toBe(0);
    const pairs = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as [string, string]);
    const expected = new Map<string, Set<string>>();
    for (const [name, text] of docs) for (const w of wordsOf(text)) (expected.get(w) ?? expected.set(w, new Set()).get(w)!).add(name);
    expect(new Map(pairs)).toEqual(new Map([...expected].map(([w, set]) => [w, `${set.size} ${[...set].sort().join(',')}`])));
    expect(pairs.length).toBe(expected.size);
    // Two runs of ascending keys, one per partition.
    const descents = pairs.filter((p, i) => i > 0 && byKey(pairs[i - 1]![0], p[0]) > 0).length;
    expect(descents).toBeLessThanOrEqual(1);
  });

  it('examples/sort-records.ts: a range partition makes the parts sorted as a whole, every record kept', async () => {
    const out = join(root, 'sorted');
    const r = await runCli(['submit', SORT_EXAMPLE, '--local', '--arg', 'chunks=3', '--out', out], { timeoutMs: 60_000 });
    expect(r.code).toBe(0);
    const { names, lines } = await readParts(out);
    expect(names).toEqual(['part-00000', 'part-00001', 'part-00002', 'part-00003']);
    const { records } = await import('../examples/sort-records.ts');
    const expected = [1, 2, 3].flatMap((seed) => records(seed)).sort(byKey);
    // Keys are unique here (10 random bytes), so each line is one record: key TAB payload.
    expect(lines.flat().map((l) => l.replace('\t', ''))).toEqual(expected);
    expect(lines.every((part) => part.length > 0)).toBe(true);
  });

  it('--out for a job without reduceByKey is refused before it runs', async () => {
    const r = await runCli(['submit', fixture('concat.ts'), '--local', '--out', join(root, 'nope')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--out writes the parts of a keyed job');
  });

  it('--stream for a keyed job is refused: its result comes at the end, by key', async () => {
    const r = await runCli(['submit', fixture('keyed/wc.ts'), '--local', '--input', input, '--stream']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('is a keyed job (reduceByKey): its result comes at the end');
  });

  it('--input naming nothing: a clear error, exit 2, nothing submitted', async () => {
    const r = await runCli(['submit', fixture('keyed/wc.ts'), '--local', '--input', join(root, 'no-such-dir')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`input ${join(root, 'no-such-dir')} names no file`);
    const g = await runCli(['submit', fixture('keyed/wc.ts'), '--local', '--input', join(input, '*.csv')]);
    expect(g.code).toBe(2);
    expect(g.stderr).toContain('the pattern matched nothing');
  });

  it('--partitions must be a whole number ≥ 1', async () => {
    const r = await runCli(['submit', fixture('keyed/wc.ts'), '--local', '--input', input, '--partitions', '0']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--partitions must be a whole number ≥ 1, not "0"');
  });

  it('a keyed job without inputs(args) needs input files: a clear error, exit 2', async () => {
    const r = await runCli(['submit', fixture('keyed/wc.ts'), '--local']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('has no `inputs` function and no input files were given');
  });

  it('a binary file among the inputs: a clear error naming it, exit 2', async () => {
    const dir = join(root, 'with-binary');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'notes.txt'), 'plain text\n');
    await writeFile(join(dir, 'image.png'), Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]));
    const r = await runCli(['submit', fixture('keyed/wc.ts'), '--local', '--input', dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`input file ${join(dir, 'image.png')} looks binary (a NUL byte at offset 8)`);
  });

  it('a job with both reduce and reduceByKey is refused at submit', async () => {
    const r = await runCli(['submit', fixture('keyed/both-reduces.ts'), '--local']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('defines both `reduce`');
  });

  it('emit with an object key fails the task naming the type', async () => {
    const r = await runCli(['submit', fixture('keyed/bad.ts'), '--local', '--arg', 'mode=object-key']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('a key must be a string or a finite number, and this one is an object (Object)');
  });

  it('reduceByKey throwing names the key', async () => {
    const r = await runCli(['submit', fixture('keyed/bad.ts'), '--local', '--arg', 'mode=reduce-throws']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('reduceByKey threw for key "boom"');
    expect(r.stderr).toContain('cannot reduce this one');
  });

  it('a partition out of range names the key and the value', async () => {
    const r = await runCli(['submit', fixture('keyed/bad-partition.ts'), '--local']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('partition("gamma", 2) returned 7; it must be a whole number from 0 to 1');
  });
});

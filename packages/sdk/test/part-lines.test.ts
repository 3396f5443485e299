/**
 * A part as text (what `picompute submit --out` writes and `part.text()`
 * gives): the fast path copies string bytes straight from the part's
 * records, so it is checked here against the plain definition — `key TAB
 * value NEWLINE`, strings as they are, anything else as `format` gives it —
 * for every kind of key and value, multi-byte text, values far longer than
 * their records once formatted, and records cut by chunk boundaries anywhere.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { RunWriter, partLines } from '../src/run-format.js';

const dir = mkdtempSync(join(tmpdir(), 'part-lines-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Record = [key: string | number, values: unknown[]];

function partBytes(name: string, records: Record[]): Buffer {
  const out = new RunWriter(join(dir, name));
  for (const [key, values] of records) out.add(key, values);
  out.close();
  return readFileSync(join(dir, name));
}

const format = (v: unknown) => (typeof v === 'number' ? `#${v}` : JSON.stringify(v));

/** The definition: each record a line, its values TAB-separated. */
function expected(records: Record[]): string {
  return records.map(([k, values]) => `${String(k)}${values.map((v) => `\t${typeof v === 'string' ? v : format(v)}`).join('')}\n`).join('');
}

async function linesOf(bytes: Buffer, cut: number[]): Promise<string> {
  async function* chunks() {
    let at = 0;
    for (const c of cut) {
      yield bytes.subarray(at, c);
      at = c;
    }
    yield bytes.subarray(at);
  }
  const out: Buffer[] = [];
  for await (const b of partLines(chunks(), 'the test part', format)) out.push(b);
  return Buffer.concat(out).toString('utf8');
}

const RECORDS: Record[] = [
  [-1.5, ['minus']],
  [0, [0]],
  [7, [{ deep: [1, 2, { three: 'drei' }] }]],
  ['', ['']],
  ['a', ['short', 12.25, null, true]],
  ['ascii key', ['x'.repeat(300)]],
  ['clé ✓', ['π ≈ 3.14159', 'naïve café']],
  ['emoji 😀', ['🎉'.repeat(40)]],
  ['many', Array.from({ length: 50 }, (_, i) => (i % 3 ? `v${i}` : i))],
  // Formatted far longer than its record: a number becomes a long string.
  ['n', Array.from({ length: 200 }, () => 1)],
];

describe('partLines', () => {
  it('gives every kind of key and value as the plain definition does', async () => {
    const bytes = partBytes('kinds', RECORDS);
    expect(await linesOf(bytes, [])).toBe(expected(RECORDS));
  });

  it('is the same however the bytes are cut into chunks (every cut point of a record)', async () => {
    const bytes = partBytes('cuts', RECORDS);
    const want = expected(RECORDS);
    for (let cut = 1; cut < bytes.length; cut += 7) expect(await linesOf(bytes, [cut])).toBe(want);
    const everyFew = Array.from({ length: Math.floor(bytes.length / 5) }, (_, i) => (i + 1) * 5);
    expect(await linesOf(bytes, everyFew)).toBe(want);
  });

  it('keeps pace with a formatter that returns much more than the record held', async () => {
    const records: Record[] = Array.from({ length: 2000 }, (_, i) => [`k${String(i).padStart(5, '0')}`, [i]]);
    const bytes = partBytes('grow', records);
    const big = (v: unknown) => `${'long '.repeat(40)}${String(v)}`;
    const out: Buffer[] = [];
    for await (const b of partLines([bytes], 'grow', big)) out.push(b);
    expect(Buffer.concat(out).toString('utf8')).toBe(records.map(([k, [v]]) => `${k}\t${big(v)}\n`).join(''));
  });

  // Sorts and joins: every key and value a string, lines moved down in a copy of the batch.
  const STRINGS: Record[] = [
    ['', ['']],
    ['k', ['v']],
    ['a key of more than twenty-four bytes', ['short', 'y'.repeat(25), 'z'.repeat(24), '']],
    ['clé ✓', ['π ≈ 3.14159', 'naïve café'.repeat(9)]],
    ['emoji 😀', ['🎉'.repeat(40)]],
    ...Array.from({ length: 300 }, (_, i): Record => [`r${String(i).padStart(4, '0')}`, [`${'.'.repeat(i % 97)}${i}`]]),
  ];

  it('gives string-only records as the plain definition does, however cut, and leaves the bytes it was given as they were', async () => {
    const bytes = partBytes('strings', STRINGS);
    const before = Buffer.from(bytes);
    const want = expected(STRINGS);
    expect(await linesOf(bytes, [])).toBe(want);
    for (let cut = 1; cut < bytes.length; cut += 53) expect(await linesOf(bytes, [cut, Math.min(bytes.length, cut + 400)])).toBe(want);
    expect(bytes.equals(before)).toBe(true);
  });

  it('formats a number met after many string records of the same batch', async () => {
    const records: Record[] = [...STRINGS, ['n', ['a', 42]], ['z', ['last']]];
    const bytes = partBytes('late-number', records);
    expect(await linesOf(bytes, [])).toBe(expected(records));
  });

  it('says a part cut short is cut short', async () => {
    const bytes = partBytes('short', RECORDS);
    const lines = async () => {
      for await (const _ of partLines([bytes.subarray(0, bytes.length - 3)], 'part 3 of job j-1', format));
    };
    await expect(lines()).rejects.toThrow('part 3 of job j-1 ends inside a record (');
  });
});

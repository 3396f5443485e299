/**
 * W8: a sort of 100-byte records (10-byte printable key, fixed seed; the
 * records of examples/sort-records.ts) by keyed map/reduce with a range
 * partition, beside GNU sort (LC_ALL=C, every core) on the same file: wall
 * time, the output checked sorted across the part files with every record
 * kept. Parts stream from the reducers' disks with no size cap, so 1 GB
 * would run; 100 MB keeps a full bench run short (and GNU sort's output is
 * compared in memory).
 */
import { execFileSync } from 'node:child_process';
import { createWriteStream, mkdtempSync, statSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { best, bundleExports, here } from '../lib/harness.mjs';
import { withLocalCluster } from '../lib/local.mjs';

const EXAMPLE = here('../examples/sort-records.ts');

async function writeRecords(file, chunks, records) {
  const out = createWriteStream(file);
  for (let seed = 1; seed <= chunks; seed++) if (!out.write(`${records(seed).join('\n')}\n`)) await once(out, 'drain');
  out.end();
  await once(out, 'finish');
}

/** A part's text (key TAB payloads, a line a key) as GNU sort's record lines: each payload after its key. */
function recordLines(text) {
  let tabs = 0;
  let newlines = 0;
  for (let i = text.indexOf('\t'); i >= 0; i = text.indexOf('\t', i + 1)) tabs++;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) newlines++;
  // A key of one record (all but never two in 95^10 keys): its line is the record with a TAB inside.
  if (tabs === newlines) return text.replaceAll('\t', '');
  let out = '';
  for (const line of text.split('\n')) {
    if (!line) continue;
    const [key, ...payloads] = line.split('\t');
    for (const p of payloads) out += `${key}${p}\n`;
  }
  return out;
}

export async function run({ quick, cores, repeat, report }) {
  const { exports: sort } = await bundleExports(EXAMPLE);
  const chunks = quick ? 2 : 100; // × 10,000 records × 100 bytes
  const file = join(mkdtempSync(join(tmpdir(), 'picompute-w8-')), 'records.txt');
  await writeRecords(file, chunks, sort.records);
  const mb = statSync(file).size / 1048576;
  const count = chunks * 10_000;

  let gnuSorted;
  const gnu = await best(repeat, () => {
    gnuSorted = execFileSync('sort', [`--parallel=${cores}`, file], { env: { ...process.env, LC_ALL: 'C' }, maxBuffer: 2 * statSync(file).size });
  });
  report.add('W8 sort', `GNU sort (LC_ALL=C, --parallel=${cores})`, gnu.ms, 'ms', { mb: +mb.toFixed(1) });

  await withLocalCluster(cores, async (client) => {
    const partitions = quick ? 4 : 16;
    // Timed: the job and reading its whole output back as text (as GNU sort's is); checked after.
    let lines;
    const r = await best(repeat, async () => {
      const job = await client.submit(EXAMPLE, { input: [file], splitSize: quick ? '256K' : '4M', partitions });
      lines = [];
      for await (const part of job.parts({ early: true })) for await (const text of part.text(String)) lines.push(recordLines(text.toString('latin1')));
    });
    const got = lines.join('');
    if (got.length !== count * 100) throw new Error(`picompute W8 gave ${got.length} bytes for ${count} records of 100 bytes`);
    // Keys ascend across the parts; records sharing a key are in payload order, as GNU sort gives them.
    if (got !== gnuSorted.toString('latin1')) throw new Error('picompute W8 output differs from GNU sort');
    report.add('W8 sort', `picompute keyed (embedded, ${partitions} partitions)`, r.ms, 'ms', { mb: +mb.toFixed(1) });
    report.note(`W8: ${mb.toFixed(0)} MB of 100-byte records, output equal to GNU sort's; picompute ${(r.ms / gnu.ms).toFixed(1)}× GNU sort's time`);
  });
}

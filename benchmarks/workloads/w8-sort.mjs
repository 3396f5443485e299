/**
 * W8: a sort of 100-byte records (10-byte printable key, fixed seed, the
 * records of examples/sort-records.ts, as gensort makes them) by keyed
 * map/reduce with a range partition on an agent whose tasks may use 128 MiB
 * each (`--mem-per-task 128M`), beside GNU `sort -S 256M --parallel=<cores>`
 * (LC_ALL=C) of the same file on the same machine. Both write their output to
 * a file (picompute: the parts streamed back in order, as record lines); both
 * files are then checked as valsort does: every record in order, as many
 * records as the input, and the same order-free checksum (the sum of each
 * record's CRC-32). 1 GiB by default (`--w8-mb`).
 */
import { createReadStream, createWriteStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { best, bundleExports, commandCpuMs, cpuSplit, here, threadCpuMs } from '../lib/harness.mjs';
import { withLocalCluster } from '../lib/local.mjs';

const EXAMPLE = here('../examples/sort-records.ts');
const RECORD = 100; // 99 bytes and a newline, as examples/sort-records.ts writes them
const PER_CHUNK = 10_000;

async function writeRecords(file, chunks, records) {
  const out = createWriteStream(file);
  for (let seed = 1; seed <= chunks; seed++) if (!out.write(`${records(seed).join('\n')}\n`)) await once(out, 'drain');
  out.end();
  await once(out, 'finish');
}

const KEY = 10;
const TAB = 9;
const NEWLINE = 10;

/**
 * A part's text (key TAB payloads, a line a key) as GNU sort's record lines:
 * each payload after its key. A line of one record (most of them) is checked
 * where its TAB and NEWLINE must be and moved down over the TAB in place, two
 * memmoves and no search (searching each TAB and NEWLINE with indexOf cost a
 * call apiece: three a line, 3 s a GiB on the client's thread, which GNU sort
 * does not spend). A line of several records (a key the input has more than
 * once: the generator's xorshift sequences overlap between seeds, so a GiB
 * has thousands) is written out on its own, and the lines after it go on in
 * place: the rest of the text sent the slow way cost up to 10 s of a 1 GiB
 * run's client thread.
 */
export function recordLines(text) {
  const pieces = [];
  let kept = 0;
  let o = 0;
  let from = 0;
  while (from < text.length) {
    if (from + RECORD + 1 <= text.length && text[from + KEY] === TAB && text[from + RECORD] === NEWLINE) {
      text.copyWithin(o, from, from + KEY);
      text.copyWithin(o + KEY, from + KEY + 1, from + RECORD + 1);
      o += RECORD;
      from += RECORD + 1;
      continue;
    }
    let end = text.indexOf(NEWLINE, from);
    if (end < 0) end = text.length;
    pieces.push(text.subarray(kept, o), lineRecords(text.subarray(from, end)));
    from = end + 1;
    kept = o = from;
  }
  if (pieces.length === 0) return text.subarray(0, o);
  pieces.push(text.subarray(kept, o));
  return Buffer.concat(pieces);
}

/** One part line's records: its key before each of its payloads. */
function lineRecords(line) {
  const [key, ...payloads] = line.toString('latin1').split('\t');
  return Buffer.from(payloads.map((p) => `${key}${p}\n`).join(''), 'latin1');
}

/**
 * valsort's check of a file of records: how many, the sum of their CRC-32s
 * (order-free, so input and output compare), and whether each is ≥ the one
 * before it (bytewise, as LC_ALL=C sorts).
 */
async function valsort(file) {
  let records = 0;
  let sum = 0n;
  let sorted = true;
  let previous = Buffer.alloc(0);
  let rest = Buffer.alloc(0);
  for await (const piece of createReadStream(file, { highWaterMark: RECORD * 10_000 })) {
    const buf = rest.length ? Buffer.concat([rest, piece]) : piece;
    const whole = buf.length - (buf.length % RECORD);
    let batch = 0;
    for (let at = 0; at < whole; at += RECORD) {
      const record = buf.subarray(at, at + RECORD - 1);
      if (buf[at + RECORD - 1] !== 10) throw new Error(`${file}: record ${records + 1} is not 99 bytes and a newline`);
      batch += crc32(record);
      if (sorted && Buffer.compare(previous, record) > 0) sorted = false;
      previous = record;
      records++;
    }
    sum += BigInt(batch);
    rest = Buffer.from(buf.subarray(whole));
  }
  if (rest.length) throw new Error(`${file} ends with ${rest.length} bytes that are not a whole record`);
  return { records, sum, sorted };
}

const seconds = (ms) => +(ms / 1000).toFixed(1);

export async function run({ quick, cores, repeat, report, w8Mb }) {
  const { exports: sort } = await bundleExports(EXAMPLE);
  const mb = quick ? 2 : Number(w8Mb ?? 1024);
  const chunks = Math.max(1, Math.round((mb * 1048576) / (RECORD * PER_CHUNK)));
  const dir = mkdtempSync(join(tmpdir(), 'picompute-w8-'));
  try {
    const file = join(dir, 'records.txt');
    await writeRecords(file, chunks, sort.records);
    const size = statSync(file).size / 1048576;
    const input = await valsort(file);
    const check = async (what, out) => {
      const v = await valsort(out);
      if (v.records !== input.records) throw new Error(`${what} gave ${v.records} records for ${input.records}`);
      if (v.sum !== input.sum) throw new Error(`${what}'s records have another checksum than the input's: records were changed`);
      if (!v.sorted) throw new Error(`${what}'s output is not sorted`);
    };

    const gnuOut = join(dir, 'gnu.txt');
    const gnuArgs = ['-S', '256M', `--parallel=${cores}`, '-T', dir, '-o', gnuOut, file];
    const gnuCpuMs = [];
    const gnu = await best(repeat, () => gnuCpuMs.push(commandCpuMs('sort', gnuArgs, { ...process.env, LC_ALL: 'C' })));
    await check('GNU sort', gnuOut);
    rmSync(gnuOut);
    const gnuCpu = gnuCpuMs[gnu.at];
    report.add('W8 sort', `GNU sort -S 256M --parallel=${cores} (LC_ALL=C)`, gnu.ms, 'ms', { mb: +size.toFixed(1), cpuMs: Math.round(gnuCpu) });

    const partitions = quick ? 4 : 16;
    const ours = join(dir, 'picompute.txt');
    await withLocalCluster(
      cores,
      async (client) => {
        // Timed: the job, and its parts streamed back in partition order into one file of records (as GNU sort writes its own).
        const cpu = [];
        const r = await best(repeat, async () => {
          const before = threadCpuMs();
          const job = await client.submit(EXAMPLE, { input: [file], splitSize: quick ? '256K' : '16M', partitions });
          const out = createWriteStream(ours);
          for await (const part of job.parts({ early: true }))
            for await (const text of part.text(String)) if (!out.write(recordLines(text))) await once(out, 'drain');
          out.end();
          await once(out, 'finish');
          cpu.push(cpuSplit(before, threadCpuMs(), cores));
        });
        await check('picompute', ours);
        const used = cpu[r.at];
        report.add('W8 sort', `picompute keyed (embedded, --mem-per-task 128M, ${partitions} partitions)`, r.ms, 'ms', {
          mb: +size.toFixed(1),
          cpuMs: Math.round(used.totalMs),
          workersMs: Math.round(used.workerMs),
          mainMs: Math.round(used.mainMs),
          helpersMs: Math.round(used.helperMs),
        });
        report.note(
          `W8: ${size.toFixed(0)} MB of 100-byte records (${input.records} records); both outputs sorted, every record kept (count and CRC-32 sum equal to the input's); ` +
            `picompute ${(r.ms / gnu.ms).toFixed(1)}× GNU sort's time (target ≤ 2×)`,
        );
        // What bounds the ratio, measured in the same runs: on this many cores a process cannot finish sooner than its CPU time shared out.
        report.note(
          `W8 CPU: picompute ${seconds(used.totalMs)} s (its ${cores} worker threads ${seconds(used.workerMs)}, main thread ${seconds(used.mainMs)}, ` +
            `V8's GC and compiler helpers and libuv's pool ${seconds(used.helperMs)}) against GNU sort's ${seconds(gnuCpu)} s: ${(used.totalMs / gnuCpu).toFixed(1)}× its CPU; ` +
            `on ${cores} cores that CPU alone takes ≥ ${seconds(used.totalMs / cores)} s, ${(used.totalMs / cores / gnu.ms).toFixed(1)}× GNU sort's wall time`,
        );
      },
      { taskMemoryMb: 128 },
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * One Slurm array task of the W2/W3/W6 peer runs: the very job code picompute
 * runs (imported from the job's bundle), on this task's share of the input,
 * with the answer written to OUT_DIR/<array index>.json (Slurm's way: files
 * on a filesystem every node sees; here one node).
 *
 *   node slurm-task.mjs BUNDLE_URL hits OUT_DIR POINTS
 *   node slurm-task.mjs BUNDLE_URL words OUT_DIR FILE CHUNK_BYTES
 */
import { closeSync, openSync, readSync, fstatSync, writeFileSync } from 'node:fs';

const [bundleUrl, kind, outDir, ...rest] = process.argv.slice(2);
const index = Number(process.env.SLURM_ARRAY_TASK_ID);
const job = await import(bundleUrl);
let answer;
if (kind === 'hits') {
  answer = job.countHits({ seed: index + 1, points: Number(rest[0]) });
} else {
  // Bytes [index × chunk, (index + 1) × chunk), each end moved to just past the next newline, as dask.bag's read_text does.
  const [file, chunk] = [rest[0], Number(rest[1])];
  const fd = openSync(file, 'r');
  const size = fstatSync(fd).size;
  const edge = (at) => {
    if (at <= 0 || at >= size) return Math.max(0, Math.min(at, size));
    const buf = Buffer.alloc(64 * 1024);
    for (let pos = at; pos < size; pos += buf.length) {
      const n = readSync(fd, buf, 0, buf.length, pos);
      const nl = buf.subarray(0, n).indexOf(10);
      if (nl >= 0) return pos + nl + 1;
    }
    return size;
  };
  const [start, end] = [edge(index * chunk), edge((index + 1) * chunk)];
  const text = Buffer.alloc(end - start);
  readSync(fd, text, 0, text.length, start);
  closeSync(fd);
  answer = Object.fromEntries(job.countWords(text.toString('latin1')));
}
writeFileSync(`${outDir}/${index}.json`, JSON.stringify(answer));

/**
 * A keyed job's result as the command shows it: with `--out DIR`, one file
 * per partition, `DIR/part-00000`…, a line per key (the key, a TAB, the
 * value: a string as it is, anything else as JSON), each written under a
 * temporary name and renamed when whole, so a part file that exists is
 * complete (parts stream from the agents that reduced them, so their size
 * has no limit); without `--out`, one JSON [key, value] pair a line, partition
 * after partition, each in key order, unless the result is too big to print.
 */
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { once } from 'node:events';
import type { JobHandle, Part } from '@picompute/sdk/client';
import { formatBytes } from '@picompute/sdk/units';
import { toJsonValue } from '../json.js';

/** Printed results stop here: past it, the parts belong in files. */
export const MAX_PRINTED_BYTES = 16 * 1024 * 1024;

const partName = (p: number) => `part-${String(p).padStart(5, '0')}`;

function valueText(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(toJsonValue(v));
}

/**
 * Writes every part to `dir` as it streams in (a part is never whole in
 * memory here); resolves when all are complete and renamed.
 */
export async function writeParts(job: JobHandle, dir: string): Promise<{ parts: number; keys: number }> {
  await mkdir(dir, { recursive: true });
  let parts = 0;
  let keys = 0;
  for await (const part of job.parts()) {
    const final = join(dir, partName(part.partition));
    const tmp = join(dir, `.${partName(part.partition)}.tmp`);
    const out = createWriteStream(tmp, { mode: 0o644 });
    try {
      for await (const text of part.text(valueText)) if (!out.write(text)) await once(out, 'drain');
      keys += part.keys;
      out.end();
      await once(out, 'finish');
    } catch (err) {
      out.destroy();
      await rm(tmp, { force: true });
      throw err;
    }
    await rename(tmp, final);
    parts++;
  }
  return { parts, keys };
}

/**
 * `submit --out`: writes the parts while the job still runs, each as soon as
 * its reduce finished (reading overlaps the rest of the reduce phase), under
 * temporary names; only once the job has completed are they all renamed, so
 * a failed job leaves no part file. Rejects (its temporary files removed) if
 * the job fails or a part cannot be read; the caller may then read the parts
 * of a completed job again with writeParts.
 */
export async function writePartsEarly(job: JobHandle, dir: string): Promise<{ parts: number; keys: number }> {
  await mkdir(dir, { recursive: true });
  const written: { tmp: string; final: string }[] = [];
  let keys = 0;
  try {
    for await (const part of job.parts({ early: true })) {
      const tmp = join(dir, `.${partName(part.partition)}.tmp`);
      written.push({ tmp, final: join(dir, partName(part.partition)) });
      const out = createWriteStream(tmp, { mode: 0o644 });
      try {
        for await (const text of part.text(valueText)) if (!out.write(text)) await once(out, 'drain');
        out.end();
        await once(out, 'finish');
      } catch (err) {
        out.destroy();
        throw err;
      }
      keys += part.keys;
    }
    for (const w of written) await rename(w.tmp, w.final);
  } catch (err) {
    await Promise.all(written.map((w) => rm(w.tmp, { force: true })));
    throw err;
  }
  return { parts: written.length, keys };
}

/** Prints the pairs, one JSON array a line; false (nothing printed) when the result is over MAX_PRINTED_BYTES. */
export async function printPairs(job: JobHandle, say: (line: string) => void): Promise<boolean> {
  const parts: Part[] = [];
  let bytes = 0;
  for await (const part of job.parts()) {
    bytes += part.bytes;
    if (bytes > MAX_PRINTED_BYTES) {
      say(`job ${job.id}'s result is over ${formatBytes(MAX_PRINTED_BYTES)} (the most printed): write it to files with picompute result ${job.id} --out DIR`);
      return false;
    }
    parts.push(part);
  }
  const lines: string[] = [];
  for (const part of parts) for await (const [k, v] of part.pairs()) lines.push(JSON.stringify([k, toJsonValue(v)]));
  if (lines.length) process.stdout.write(`${lines.join('\n')}\n`);
  return true;
}

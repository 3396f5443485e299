/**
 * Memory of a shuffle: 300 MB of 100-byte records (examples/sort-records.ts
 * with a range partition) sorted by a coordinator and two one-core agents,
 * separate processes on loopback, with `--mem-per-task 64M`: every map
 * spills its sorted runs long before its input is read, reducers merge runs
 * from disk, parts stream from disk to the client. The answer is checked
 * like valsort (every record once, globally sorted, the same checksum as
 * the input), and the agents' resident memory, sampled from /proc (each
 * agent and the processes under it) all through the job, stays far below
 * the input's size.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli, startDaemon } from './support/cli.js';
import type { Daemon } from './support/cli.js';
import { processTree } from './support/proc.js';
import { until } from './support/until.js';
import { readFileSync } from 'node:fs';

const SORT_EXAMPLE = new URL('../examples/sort-records.ts', import.meta.url).pathname;
const CHUNKS = 300; // × 10,000 records × 100 bytes
/** Far below the 300 MB that pass through each agent's hands, and above what a bounded shuffle needs (Node, workers, buffers). */
const RSS_BOUND_MIB = 400;

/** A record's contribution to the checksum: two FNV-1a lanes, summed (order-free, like valsort's). */
function recordSum(rec: string): [number, number] {
  let a = 0x811c9dc5;
  let b = 0x01000193;
  for (let i = 0; i < rec.length; i++) {
    const c = rec.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995) + i;
  }
  return [a >>> 0, b >>> 0];
}

class Checksum {
  a = 0;
  b = 0;
  count = 0;
  add(rec: string): void {
    const [x, y] = recordSum(rec);
    this.a = (this.a + x) >>> 0;
    this.b = (this.b + y) >>> 0;
    this.count++;
  }
}

/** The agent's resident memory now, MiB: the processes given (an agent and those under it) summed (VmRSS), and the highest any reached (VmHWM). */
function memoryOf(pids: number[]): { rss: number; hwm: number } {
  let rss = 0;
  let hwm = 0;
  for (const p of pids) {
    try {
      const status = readFileSync(`/proc/${p}/status`, 'utf8');
      rss += Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
      hwm = Math.max(hwm, Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024);
    } catch {
      // gone meanwhile
    }
  }
  return { rss, hwm };
}

describe('a shuffle larger than its memory', () => {
  const daemons: Daemon[] = [];
  let root = '';
  afterAll(async () => {
    await Promise.all(daemons.map((d) => d.stop('SIGKILL')));
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('300 MB sorted with --mem-per-task 64M: exact, and each agent stays under 400 MiB resident', async () => {
    root = await mkdtemp(join(tmpdir(), 'picompute-keyed-mem-'));
    const input = join(root, 'records.txt');
    const { records } = await import('../examples/sort-records.ts');
    const given = new Checksum();
    const file = createWriteStream(input);
    for (let seed = 1; seed <= CHUNKS; seed++) {
      const recs = records(seed);
      for (const r of recs) given.add(r);
      if (!file.write(`${recs.join('\n')}\n`)) await once(file, 'drain');
    }
    file.end();
    await once(file, 'finish');

    const agents = await Promise.all([0, 1].map(() => startDaemon(['agent', '--host', '127.0.0.1', '--port', '0', '--cores', '1', '--no-speed-probe'])));
    daemons.push(...agents);
    const coordinator = await startDaemon(['coordinator', '--host', '127.0.0.1', '--port', '0', ...agents.flatMap((a) => ['--agent', a.address])]);
    daemons.push(coordinator);
    await until('both agents up', async () => ((coordinator.output().match(/agent \S+ up at /g) ?? []).length >= 2 ? true : undefined), 15_000);

    const peaks = agents.map(() => ({ rss: 0, hwm: 0 }));
    // Each agent's process tree is walked (all of /proc) once a second, its members' status read every 100 ms.
    let trees = agents.map((a) => processTree(a.proc.pid!));
    let samples = 0;
    const sample = () => {
      if (++samples % 10 === 0) trees = agents.map((a) => processTree(a.proc.pid!));
      trees.forEach((tree, i) => {
        const m = memoryOf(tree);
        peaks[i]!.rss = Math.max(peaks[i]!.rss, m.rss);
        peaks[i]!.hwm = Math.max(peaks[i]!.hwm, m.hwm);
      });
    };
    const sampler = setInterval(sample, 100);
    const out = join(root, 'sorted');
    const started = Date.now();
    const r = await runCli(
      [
        'submit',
        SORT_EXAMPLE,
        '--coordinator',
        coordinator.address,
        '--input',
        input,
        '--split-size',
        '8M',
        '--partitions',
        '8',
        '--mem-per-task',
        '64M',
        '--out',
        out,
      ],
      { timeoutMs: 170_000 },
    ).finally(() => clearInterval(sampler));
    sample();
    const seconds = (Date.now() - started) / 1000;
    expect(r.stderr).toContain('in 8 parts');
    expect(r.code).toBe(0);
    // The maps did spill: with 64M per task, a map holds a quarter of it before it writes a run.
    console.log(
      `300 MB sort in ${seconds.toFixed(1)} s; agents' peak resident memory (VmRSS sampled every 100 ms, agent and children): ` +
        `${peaks.map((p) => p.rss.toFixed(0)).join(' and ')} MiB; VmHWM ${peaks.map((p) => p.hwm.toFixed(0)).join(' and ')} MiB`,
    );
    for (const p of peaks) {
      expect(p.rss).toBeLessThan(RSS_BOUND_MIB);
      expect(p.hwm).toBeLessThan(RSS_BOUND_MIB);
    }

    const names = (await readdir(out)).sort();
    expect(names).toEqual(Array.from({ length: 8 }, (_, p) => `part-${String(p).padStart(5, '0')}`));
    const got = new Checksum();
    let last = '';
    let unsorted = 0;
    for (const name of names) {
      for await (const line of createInterface({ input: createReadStream(join(out, name), { encoding: 'latin1' }), crlfDelay: Infinity })) {
        const [key, ...payloads] = line.split('\t');
        if (key! <= last) unsorted++;
        last = key!;
        for (const p of payloads) got.add(key + p);
      }
    }
    expect(unsorted).toBe(0);
    expect(got.count).toBe(given.count);
    expect([got.a, got.b]).toEqual([given.a, given.b]);
  }, 240_000);
});

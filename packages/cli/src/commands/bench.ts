/**
 * `picompute bench`: measures the cluster it finds (or the embedded one):
 * client↔coordinator round trip, tiny-task throughput, payload bandwidth,
 * and the NAS Parallel Benchmarks EP kernel, verified against NPB's published sums, with
 * each node's speed per core relative to the fastest (what the scheduler can
 * use to weigh nodes: a Pi 4 beside a Pi 5 shows here).
 */
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import type { Client } from '@picompute/sdk/client';
import { connectOrLocal, withConnectFlags } from '../connect-flags.js';
import type { ConnectFlags } from '../connect-flags.js';
import { action, EXIT_JOB_FAILED, EXIT_OK, UsageError } from '../errors.js';
import { EP_CLASSES, EP_EPSILON } from '../npb.js';
import { table } from '../table.js';

const BENCH_DIR = fileURLToPath(new URL('.', import.meta.resolve('@picompute/cli/bench/ep.ts')));

interface BenchFlags extends ConnectFlags {
  class: string;
  local?: boolean;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t = performance.now();
  const v = await fn();
  return [v, performance.now() - t];
}

export function registerBench(program: Command): void {
  withConnectFlags(
    program
      .command('bench')
      .description('measure the cluster: round trip, task rate, bandwidth, NPB EP per node (verified)')
      .option('--class <S,W,A>', 'NPB EP classes to run', 'S,W')
      .option('--local', 'measure the embedded local cluster'),
  ).action(action((flags: BenchFlags) => bench(flags)));
}

async function bench(flags: BenchFlags): Promise<number> {
  const classes = flags.class.split(',').map((c) => c.trim().toUpperCase());
  for (const c of classes) if (!(c in EP_CLASSES)) throw new UsageError(`--class ${c}: choose from S, W and A`);
  const target = await connectOrLocal(flags, (l) => flags.json || process.stderr.write(`${l}\n`));
  const { client } = target;
  try {
    const nodes = (await client.nodes()).filter((n) => n.state !== 'down');
    if (!nodes.length) throw new UsageError('no node is up to measure');
    const cores = nodes.reduce((a, n) => a + n.info.cores, 0);
    const rtt = [];
    for (let i = 0; i < 20; i++) rtt.push((await timed(() => client.nodes()))[1]);
    const tiny = 5000;
    const [, tinyMs] = await timed(() => run(client, 'echo.ts', { tasks: String(tiny) }));
    const payloads = 32;
    const [, bwMs] = await timed(() => run(client, 'echo.ts', { tasks: String(payloads), bytes: String(1 << 20) }));

    const ep = [];
    const perNode = new Map<string, { batches: number; ms: number }>();
    let ok = true;
    for (const c of classes as (keyof typeof EP_CLASSES)[]) {
      const [{ result, jobId }, ms] = await timed(() => run(client, 'ep.ts', { class: c, tasks: String(Math.max(16, cores * 8)) }));
      const r = result as { sx: number; sy: number; q: number[]; ms: number };
      const want = EP_CLASSES[c];
      const verified = Math.abs((r.sx - want.sx) / want.sx) <= EP_EPSILON && Math.abs((r.sy - want.sy) / want.sy) <= EP_EPSILON;
      ok &&= verified;
      for (const line of await client.logs(jobId)) {
        const m = JSON.parse(line.line) as { batches: number; ms: number };
        const n = perNode.get(line.node) ?? { batches: 0, ms: 0 };
        perNode.set(line.node, { batches: n.batches + m.batches, ms: n.ms + m.ms });
      }
      ep.push({
        class: c,
        ms,
        mops: 2 ** (want.m + 1) / (ms * 1000),
        pairs: r.q.reduce((a, b) => a + b, 0),
        sx: r.sx,
        sy: r.sy,
        verified,
        coreSecondsPerSecond: r.ms / ms,
      });
    }
    const rates = [...perNode].map(([node, v]) => ({ node, batchesPerCoreSecond: (v.batches / v.ms) * 1000 }));
    // Read again now: the list from the start has no round trip yet for an agent that joined moments before (rttMs 0).
    const pinged = await client.nodes();
    const fastest = Math.max(...rates.map((r) => r.batchesPerCoreSecond));
    const report = {
      nodes: nodes.length,
      cores,
      rttMs: median(rtt),
      rttNote: 'rttMs: client↔coordinator; perNode[].rttMs: coordinator↔agent (Ping on the Work stream)',
      tasksPerSecond: (tiny / tinyMs) * 1000,
      bandwidthMBs: (payloads / bwMs) * 1000,
      ep,
      perNode: rates.map((r) => ({ ...r, relativeSpeed: r.batchesPerCoreSecond / fastest, rttMs: pinged.find((n) => n.info.id === r.node)?.rttMs ?? 0 })),
    };
    if (flags.json) console.log(JSON.stringify(report));
    else {
      console.log(
        `cluster: ${report.nodes} nodes, ${cores} cores · round trip ${report.rttMs.toFixed(2)} ms · ${report.tasksPerSecond.toFixed(0)} tiny tasks/s ` +
          `· ${report.bandwidthMBs.toFixed(1)} MB/s payloads\n`,
      );
      console.log(
        table(
          ['EP CLASS', 'TIME', 'MOP/S', 'PAIRS', 'CORE-S/S', 'VERIFIED'],
          ep.map((e) => [
            e.class,
            `${(e.ms / 1000).toFixed(2)}s`,
            e.mops.toFixed(1),
            e.pairs,
            e.coreSecondsPerSecond.toFixed(2),
            e.verified ? 'yes' : `NO (sx=${e.sx}, sy=${e.sy})`,
          ]),
        ),
      );
      console.log(
        `\n${table(
          ['NODE', 'EP BATCHES/CORE-S', 'RELATIVE SPEED', 'RTT FROM COORDINATOR'],
          report.perNode.map((r) => [r.node, r.batchesPerCoreSecond.toFixed(2), r.relativeSpeed.toFixed(2), `${r.rttMs.toFixed(2)}ms`]),
        )}`,
      );
    }
    return ok ? EXIT_OK : EXIT_JOB_FAILED;
  } finally {
    await target.close();
  }
}

async function run(client: Client, job: string, args: Record<string, string>): Promise<{ result: unknown; jobId: string }> {
  const handle = await client.submit(`${BENCH_DIR}${job}`, { args, name: `bench-${job.replace('.ts', '')}` });
  return { result: await handle.result(), jobId: handle.id };
}

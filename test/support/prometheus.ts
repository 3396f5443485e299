/**
 * A real Prometheus (Debian's `prometheus` package) started by a test on
 * loopback, with its own storage in a temp dir and a short scrape interval,
 * scraping the targets the test names; queried through its HTTP API.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { until } from './until.js';

export interface Prometheus {
  url: string;
  /** The instant vector of a PromQL query: each series' labels and value. */
  query(promql: string): Promise<{ metric: Record<string, string>; value: number }[]>;
  output(): string;
  stop(): Promise<void>;
}

export async function freeLoopbackPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** `jobs`: scrape job name → `host:port` targets (metrics at /metrics). */
export async function startPrometheus(jobs: Record<string, string[]>): Promise<Prometheus> {
  const dir = mkdtempSync(join(tmpdir(), 'picompute-prometheus-'));
  const config = ['global:', '  scrape_interval: 1s', '  scrape_timeout: 900ms', 'scrape_configs:'];
  for (const [job, targets] of Object.entries(jobs))
    config.push(`  - job_name: ${job}`, '    static_configs:', `      - targets: [${targets.map((t) => `'${t}'`).join(', ')}]`);
  writeFileSync(join(dir, 'prometheus.yml'), `${config.join('\n')}\n`);
  const port = await freeLoopbackPort();
  const url = `http://127.0.0.1:${port}`;
  const proc: ChildProcess = spawn(
    'prometheus',
    [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<void>((resolve) => proc.on('exit', () => resolve()));
  await until(`prometheus ready at ${url} (its log: ${out.slice(-2000)})`, async () => {
    if (proc.exitCode !== null) throw new Error(`prometheus exited ${proc.exitCode}:\n${out}`);
    return (
      (await fetch(`${url}/-/ready`).then(
        (r) => r.ok,
        () => false,
      )) || undefined
    );
  });
  return {
    url,
    output: () => out,
    async query(promql) {
      const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(promql)}`);
      const body = (await res.json()) as { status: string; error?: string; data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
      if (body.status !== 'success') throw new Error(`prometheus refused ${promql}: ${body.error}`);
      return body.data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
    },
    async stop() {
      proc.kill('SIGTERM');
      await exited;
    },
  };
}

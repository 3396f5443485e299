/**
 * `picompute trace ID > job.json`: a finished job's tasks as Chrome trace
 * events, one track (pid = node, tid = worker thread) per agent thread, each
 * task one complete event whose span matches the task's run time; a running
 * job is refused with the reason. Also: a dashboard bound to loopback needs
 * no login.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture, runCli, startDaemon } from './support/cli.js';
import type { Daemon } from './support/cli.js';
import { freeLoopbackPort } from './support/prometheus.js';

interface TraceEvent {
  ph: string;
  name: string;
  pid: number;
  tid: number;
  ts?: number;
  dur?: number;
  args: Record<string, unknown>;
}

describe('picompute trace', () => {
  let agent: Daemon;
  let coordinator: Daemon;
  let port: number;
  const cli = (args: string[]) => runCli([...args, '--coordinator', coordinator.address]);
  const trace = (id: string) => runCli(['trace', id, '--coordinator', '127.0.0.1', '--dashboard-port', String(port)]);

  beforeAll(async () => {
    agent = await startDaemon(['agent', '--port', '0', '--cores', '2']);
    port = await freeLoopbackPort();
    // Beyond loopback: `trace` must sign its request with the key.
    coordinator = await startDaemon(['coordinator', '--port', '0', '--dashboard-host', '0.0.0.0', '--dashboard-port', String(port), '--agent', agent.address]);
    await coordinator.waitFor(/agent .* up at /);
  });
  afterAll(async () => {
    await Promise.all([coordinator, agent].map((d) => d?.stop('SIGKILL')));
  });

  it("writes a finished job's tasks as Chrome trace events, one track per worker thread", async () => {
    const r = await cli(['submit', fixture('busy.ts'), '--arg', 'n=8', '--arg', 'ms=100', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const { jobId } = JSON.parse(r.stdout) as { jobId: string };
    const t = await trace(jobId);
    expect(t.code, t.stderr).toBe(0);
    const events = (JSON.parse(t.stdout) as { traceEvents: TraceEvent[] }).traceEvents;
    const tasks = events.filter((e) => e.ph === 'X');
    expect(tasks.map((e) => e.args.index).sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    // Busy tasks of 100 ms: each span is at least that (microseconds).
    for (const e of tasks) expect(e.dur).toBeGreaterThanOrEqual(99_000);
    const tracks = new Set(tasks.map((e) => `${e.pid}/${e.tid}`));
    expect(tracks.size).toBe(2);
    // Each track is named, and on one track the tasks never overlap (one thread runs one task at a time).
    expect(events.filter((e) => e.ph === 'M' && e.name === 'thread_name')).toHaveLength(2);
    for (const track of tracks) {
      const spans = tasks.filter((e) => `${e.pid}/${e.tid}` === track).sort((a, b) => a.ts! - b.ts!);
      for (let i = 1; i < spans.length; i++) expect(spans[i]!.ts!).toBeGreaterThanOrEqual(spans[i - 1]!.ts! + spans[i - 1]!.dur! - 2000);
    }
  });

  it('refuses a running job and an unknown one, saying why (exit 2)', async () => {
    const submitted = await cli(['submit', fixture('busy.ts'), '--arg', 'n=2', '--arg', 'ms=60000', '--no-wait']);
    const id = submitted.stdout.trim().split(/\s+/).pop()!;
    const running = await trace(id);
    expect(running.code).toBe(2);
    expect(running.stderr).toMatch(/409: job \d+ is (PENDING|RUNNING): a trace is made of a finished job/);
    await cli(['cancel', id]);
    const unknown = await trace('999');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('no job with id 999');
  });

  it('with another cluster key, is refused (401)', async () => {
    const { makeKeyFile } = await import('./support/cli.js');
    const other = await runCli(['trace', '1', '--coordinator', '127.0.0.1', '--dashboard-port', String(port), '--key-file', makeKeyFile('other-trace.key')]);
    expect(other.code).toBe(2);
    expect(other.stderr).toContain('401');
  });
});

describe('a dashboard bound to loopback', () => {
  it('needs no login', async () => {
    const port = await freeLoopbackPort();
    const coordinator = await startDaemon(['coordinator', '--port', '0', '--host', '127.0.0.1', '--dashboard-port', String(port)]);
    try {
      await coordinator.waitFor(/dashboard at http:\/\/127\.0\.0\.1:\d+\/ \(loopback: no login\)/);
      const page = await fetch(`http://127.0.0.1:${port}/`);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('<title>picompute</title>');
    } finally {
      await coordinator.stop('SIGKILL');
    }
  });
});

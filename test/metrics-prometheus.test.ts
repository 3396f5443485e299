/**
 * Prometheus metrics of a cluster started as the README says, scraped by a
 * real Prometheus: after a job, PromQL gives the completed-task count that
 * `jobs` reports, and the agents' temperature and throttle gauges carry the
 * fixture files' values (read through the same code as on a Pi).
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture, runCli, startDaemon } from './support/cli.js';
import type { Daemon } from './support/cli.js';
import { startPrometheus } from './support/prometheus.js';
import type { Prometheus } from './support/prometheus.js';
import { cannotRun, missingCommands } from './support/requirements.js';
import { until } from './support/until.js';

const metricsAddress = (d: Daemon) => d.waitFor(/metrics at http:\/\/(\S+)\/metrics/);
const missing = missingCommands(['prometheus']);

if (missing.length) {
  cannotRun('a real Prometheus scrapes the coordinator and two agents', `no ${missing.join(', ')} on PATH (Debian package prometheus)`);
} else {
  describe('a real Prometheus scraping the coordinator and two agents', () => {
    let agents: Daemon[];
    let coordinator: Daemon;
    let prometheus: Prometheus;

    beforeAll(async () => {
      agents = await Promise.all([
        // One agent reads fixtures (a Pi at 48.3 °C, under-voltage and throttled now and since boot); the other this machine, which has neither.
        startDaemon([
          'agent',
          '--port',
          '0',
          '--cores',
          '1',
          '--metrics-port',
          '0',
          '--thermal-path',
          fixture('thermal_zone0_temp'),
          '--throttle-path',
          fixture('get_throttled'),
        ]),
        startDaemon(['agent', '--port', '0', '--cores', '1', '--metrics-port', '0', '--thermal-path', fixture('no-such-sensor')]),
      ]);
      coordinator = await startDaemon(['coordinator', '--port', '0', '--metrics-port', '0', ...agents.flatMap((a) => ['--agent', a.address])]);
      await coordinator.waitFor(/agent .* up at .*\n[^]*agent .* up at /);
      prometheus = await startPrometheus({ coordinator: [await metricsAddress(coordinator)], agents: await Promise.all(agents.map(metricsAddress)) });
      // Every target scraped once at least, so what is absent below is absent, not late.
      await until('prometheus to scrape all three targets', async () => ((await prometheus.query('up == 1')).length === 3 ? true : undefined));
    });
    afterAll(async () => {
      await prometheus?.stop();
      await Promise.all([coordinator, ...(agents ?? [])].map((d) => d?.stop('SIGKILL')));
    });

    it('after a job, PromQL gives the completed-task count `jobs` reports, on the coordinator and summed over the agents', async () => {
      const r = await runCli(['submit', fixture('busy.ts'), '--json', '--arg', 'n=12', '--arg', 'ms=30', '--coordinator', coordinator.address]);
      expect(r.code, r.stderr).toBe(0);
      const { jobId } = JSON.parse(r.stdout) as { jobId: string };
      const jobs = JSON.parse((await runCli(['jobs', '--json', '--coordinator', coordinator.address])).stdout) as { jobId: string; tasksDone: number }[];
      const done = jobs.find((j) => j.jobId === jobId)!.tasksDone;
      expect(done).toBe(12);
      const scraped = (q: string) =>
        until(`prometheus to see ${q} = ${done}`, async () => {
          const v = (await prometheus.query(q))[0]?.value;
          return v === done ? v : undefined;
        });
      expect(await scraped('sum(picompute_tasks_completed_total{job="coordinator",outcome="ok"})')).toBe(12);
      expect(await scraped('sum(picompute_agent_tasks_completed_total{job="agents",outcome="ok"})')).toBe(12);
      expect((await prometheus.query('sum(picompute_task_duration_seconds_count{job="coordinator"})'))[0]?.value).toBe(12);
      // Both agents are up and idle again.
      expect((await prometheus.query('picompute_agents{state="idle"}'))[0]?.value).toBe(2);
    });

    it("the agents' temperature and throttle gauges carry the fixture's values; a node without the sources has none", async () => {
      const temps = await prometheus.query('picompute_node_temperature_celsius');
      expect(temps.map((t) => t.value)).toEqual([48.312]);
      const flag = async (name: string, period: string) => (await prometheus.query(`picompute_node_${name}{period="${period}"}`)).map((s) => s.value);
      expect(await flag('under_voltage', 'live')).toEqual([1]);
      expect(await flag('throttled', 'since_boot')).toEqual([1]);
      expect(await flag('frequency_capped', 'live')).toEqual([0]);
      expect(await flag('soft_temperature_limit', 'since_boot')).toEqual([0]);
      // Every target answered its scrapes.
      expect((await prometheus.query('up')).map((s) => s.value)).toEqual([1, 1, 1]);
    });

    it('deploy/grafana-dashboard.json asks only for metrics the daemons serve, in queries Prometheus accepts', async () => {
      const dashboard = JSON.parse(readFileSync(new URL('../deploy/grafana-dashboard.json', import.meta.url), 'utf8')) as {
        panels: { title: string; targets: { expr: string }[] }[];
      };
      const served = new Set(((await (await fetch(`${prometheus.url}/api/v1/label/__name__/values`)).json()) as { data: string[] }).data);
      // A labelled counter has no series before its first increment: no node has been lost here.
      served.add('picompute_node_losses_total');
      for (const panel of dashboard.panels) {
        for (const { expr } of panel.targets) {
          await prometheus.query(expr);
          for (const name of expr.match(/\b(picompute|process|nodejs)_\w+/g) ?? []) expect(served.has(name), `${panel.title}: ${name}`).toBe(true);
        }
      }
    });
  });
}

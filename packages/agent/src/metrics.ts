/**
 * The agent's Prometheus metrics, served on `--metrics-host:--metrics-port`
 * only when asked for. This module (and prom-client with it) is imported only
 * then, so an agent nobody scrapes keeps its idle memory small.
 *
 * Node facts (temperature, the Pi firmware's throttle flags, load, memory)
 * are read at scrape time through the same code as heartbeats, so a test's
 * fixture files (--thermal-path, --throttle-path) reach the metrics too.
 */
import { freemem, loadavg } from 'node:os';
import { basename, dirname } from 'node:path';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { listenHttp, metricsHandler } from '@picompute/sdk/http';
import type { HttpServer } from '@picompute/sdk/http';
import { DEFAULT_THERMAL_PATH } from './node-facts.js';
import type { SensorReadings } from './sensor-readings.js';
import { taskHook } from './task-counters.js';
import { SINCE_BOOT_SHIFT, THROTTLE_REASONS } from './throttle.js';

/** Task run times from 1 ms to 10 min: tiny map tasks to long simulations. */
export const TASK_DURATION_BUCKETS = [0.001, 0.005, 0.025, 0.1, 0.5, 1, 5, 30, 120, 600];

export interface AgentMetricsOptions {
  host: string;
  port: number;
  node: string;
  cores: number;
  busy: () => number;
  thermalPath?: string;
  /** The agent's one reader of the temperature and the throttle bits (./sensor-readings.ts): a scrape reads them afresh. */
  sensors: SensorReadings;
  /** The input chunk cache (./chunk-cache.ts). */
  chunks?: () => { bytes: number; fetches: number; hits: number };
}

export async function serveAgentMetrics(o: AgentMetricsOptions): Promise<HttpServer> {
  const registry = new Registry();
  registry.setDefaultLabels({ node: o.node });
  collectDefaultMetrics({ register: registry });
  const gauge = (name: string, help: string, collect: (g: Gauge) => void | Promise<void>, labelNames: string[] = []) =>
    new Gauge({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        return collect(this);
      },
    });

  gauge('picompute_agent_cores', 'Worker threads this agent runs tasks on.', (g) => g.set(o.cores));
  gauge('picompute_agent_cores_busy', 'Worker threads running a task now.', (g) => g.set(o.busy()));
  if (o.chunks) {
    const chunks = o.chunks;
    gauge('picompute_agent_input_chunk_cache_bytes', 'Bytes of input chunks cached on this node.', (g) => g.set(chunks().bytes));
    gauge('picompute_agent_input_chunk_fetches', 'Input chunks fetched from the coordinator since the agent started.', (g) => g.set(chunks().fetches));
    gauge('picompute_agent_input_chunk_cache_hits', 'Map tasks that found their input chunk cached, since the agent started.', (g) => g.set(chunks().hits));
  }
  gauge('picompute_node_load1', 'One-minute load average of the node.', (g) => g.set(loadavg()[0] ?? 0));
  gauge('picompute_node_memory_free_bytes', 'Free memory of the node.', (g) => g.set(freemem()));
  // Labelled by the sensor's folder (thermal_zone0), so the series can be absent: prom-client shows 0 for an unlabelled gauge with no value.
  const sensor = basename(dirname(o.thermalPath ?? DEFAULT_THERMAL_PATH)) || 'thermal';
  gauge(
    'picompute_node_temperature_celsius',
    'SoC temperature (absent where the node has no sensor).',
    async (g) => {
      await o.sensors.refresh();
      const c = o.sensors.temperatureC;
      g.reset();
      if (Number.isFinite(c)) g.set({ sensor }, c);
    },
    ['sensor'],
  );
  // One 0/1 gauge per reason, `period` live or since boot; absent where the node has no firmware throttle state.
  for (const r of THROTTLE_REASONS) {
    gauge(
      `picompute_node_${r.name}`,
      `1 when the Pi firmware reports ${r.label} (period: live, or at any time since boot).`,
      async (g) => {
        await o.sensors.refresh();
        const b = o.sensors.throttled;
        g.reset();
        if (b < 0) return;
        g.set({ period: 'live' }, b & (1 << r.bit) ? 1 : 0);
        g.set({ period: 'since_boot' }, b & (1 << (r.bit + SINCE_BOOT_SHIFT)) ? 1 : 0);
      },
      ['period'],
    );
  }
  const completed = new Counter({
    name: 'picompute_agent_tasks_completed_total',
    help: 'Tasks this agent finished, by outcome (ok, threw, timeout, out_of_memory, worker_died, bundle).',
    labelNames: ['outcome'],
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'picompute_agent_task_duration_seconds',
    help: 'Run time of the tasks this agent finished.',
    buckets: TASK_DURATION_BUCKETS,
    registers: [registry],
  });
  const resultBytes = new Counter({ name: 'picompute_agent_result_bytes_total', help: 'Encoded task outputs this agent sent.', registers: [registry] });
  taskHook.observer = {
    task(outcome, durationMs, outputBytes) {
      completed.inc({ outcome });
      duration.observe(durationMs / 1000);
      resultBytes.inc(outputBytes);
    },
  };
  const server = await listenHttp(
    o.host,
    o.port,
    'agent metrics (`metricsHost`/`metricsPort`)',
    metricsHandler(async () => ({ text: await registry.metrics(), contentType: registry.contentType })),
  );
  return {
    url: server.url,
    port: server.port,
    async close() {
      taskHook.observer = undefined;
      await server.close();
    },
  };
}

/**
 * The coordinator's Prometheus metrics, served on `--metrics-host:--metrics-port`
 * only when asked for (this module, and prom-client, load only then).
 * Labels are bounded: node ids, states and outcomes, never job or task ids.
 * Gauges are computed at scrape time from the Cluster's own summaries (cost
 * grows with nodes and live jobs, not tasks); counters follow its events.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { listenHttp, metricsHandler } from '@picompute/sdk/http';
import type { HttpServer } from '@picompute/sdk/http';
import type { Cluster } from '../cluster.js';

/** Same buckets as the agents' histogram, so the two can be compared. */
const TASK_DURATION_BUCKETS = [0.001, 0.005, 0.025, 0.1, 0.5, 1, 5, 30, 120, 600];
const NODE_STATES = ['idle', 'mixed', 'allocated', 'draining', 'drained', 'down', 'stopped'];
const TASK_STATES = ['pending', 'queued', 'running', 'done'];

/** `nodes` says "down (stopped)"; a label value is one word. */
export const nodeStateLabel = (state: string) => (state === 'down (stopped)' ? 'stopped' : state);

export function coordinatorRegistry(cluster: Cluster): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const gauge = (name: string, help: string, labelNames: string[], collect: (g: Gauge) => void) =>
    new Gauge({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        this.reset();
        collect(this);
      },
    });

  gauge('picompute_agents', 'Agents by state (as `picompute nodes` shows it).', ['state'], (g) => {
    for (const s of NODE_STATES) g.set({ state: s }, 0);
    for (const n of cluster.nodes()) g.inc({ state: nodeStateLabel(n.state) });
  });
  gauge('picompute_node_cores', 'Cores of each node that is up.', ['node'], (g) => {
    for (const n of cluster.nodes()) if (!n.state.startsWith('down')) g.set({ node: n.info.id }, n.info.cores);
  });
  gauge('picompute_node_cores_busy', 'Cores of each node running a task now.', ['node'], (g) => {
    for (const n of cluster.nodes()) if (!n.state.startsWith('down')) g.set({ node: n.info.id }, n.coresBusy);
  });
  gauge(
    'picompute_node_speed_factor',
    'Speed per core of each node that is up and has measured itself (at agent start), as a multiple of the slowest such node (as `picompute nodes` shows it).',
    ['node'],
    (g) => {
      for (const n of cluster.nodes()) if (!n.state.startsWith('down') && n.speedFactor > 0) g.set({ node: n.info.id }, n.speedFactor);
    },
  );
  gauge(
    'picompute_node_slowed',
    'Whether each node that is up gets new tasks at a reduced rate now (1: it reports throttling or under-voltage live).',
    ['node'],
    (g) => {
      for (const n of cluster.nodes()) if (!n.state.startsWith('down')) g.set({ node: n.info.id }, n.slowed ? 1 : 0);
    },
  );
  gauge('picompute_input_chunks', 'Input chunks (`input` files) in the chunk store.', [], (g) => g.set(cluster.inputChunks().chunks));
  gauge('picompute_input_chunk_bytes', 'Bytes of the input chunks in the chunk store.', [], (g) => g.set(cluster.inputChunks().bytes));
  gauge(
    'picompute_input_chunk_received_bytes',
    'Input chunk bytes clients sent since the coordinator started (a second submit of the same files adds none).',
    [],
    (g) => g.set(cluster.inputChunks().receivedBytes),
  );
  gauge('picompute_tasks_waiting_for_input', 'Map tasks held until their input chunk arrives.', [], (g) => g.set(cluster.inputChunks().heldTasks));
  gauge('picompute_jobs', 'Live jobs by state (finished ones: picompute_jobs_finished_total).', ['state'], (g) => {
    g.set({ state: 'PENDING' }, 0);
    g.set({ state: 'RUNNING' }, 0);
    for (const j of cluster.jobs({ active: true })) g.inc({ state: j.state });
  });
  gauge('picompute_tasks', "Live jobs' tasks by state: pending (waiting for a node), queued (in an agent's window), running, done.", ['state'], (g) => {
    const sum = { pending: 0, queued: 0, running: 0, done: 0 };
    for (const j of cluster.jobs({ active: true })) {
      sum.done += j.tasksDone;
      sum.running += j.tasksRunning;
      sum.queued += j.tasksQueued;
      sum.pending += Math.max(0, j.tasksTotal - j.tasksDone - j.tasksRunning - j.tasksQueued);
    }
    for (const s of TASK_STATES) g.set({ state: s }, sum[s as keyof typeof sum]);
  });

  const finished = new Counter({
    name: 'picompute_jobs_finished_total',
    help: 'Jobs that ended, by final state.',
    labelNames: ['state'],
    registers: [registry],
  });
  const completed = new Counter({
    name: 'picompute_tasks_completed_total',
    help: 'Task attempts that came back, by outcome (ok, threw, timeout, out_of_memory, worker_died, bundle).',
    labelNames: ['outcome'],
    registers: [registry],
  });
  const retries = new Counter({
    name: 'picompute_task_retries_total',
    help: "Task runs that were re-runs (after a lost node, or a throw under the job's `retries`).",
    registers: [registry],
  });
  const losses = new Counter({
    name: 'picompute_node_losses_total',
    help: 'Times a node went down while it was up.',
    labelNames: ['node'],
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'picompute_task_duration_seconds',
    help: 'Run time of tasks as their agents measured it.',
    buckets: TASK_DURATION_BUCKETS,
    registers: [registry],
  });
  const inputBytes = new Counter({ name: 'picompute_input_bytes_total', help: 'Encoded task inputs shipped to agents.', registers: [registry] });
  const resultBytes = new Counter({ name: 'picompute_result_bytes_total', help: 'Encoded task outputs received from agents.', registers: [registry] });
  for (const outcome of ['ok', 'threw']) completed.inc({ outcome }, 0);

  cluster.events.on('jobEnded', (_id, state) => finished.inc({ state }));
  cluster.events.on('taskEnded', (_node, r) => {
    completed.inc({ outcome: r.ok ? 'ok' : (r.error?.kind ?? 'THREW').toLowerCase() });
    duration.observe(r.durationMs / 1000);
    resultBytes.inc(r.output.length);
  });
  cluster.events.on('retried', () => retries.inc());
  cluster.events.on('nodeLost', (node) => losses.inc({ node }));
  cluster.events.on('dispatched', (_node, _job, _tasks, bytes) => inputBytes.inc(bytes));
  return registry;
}

export async function serveCoordinatorMetrics(cluster: Cluster, host: string, port: number): Promise<HttpServer> {
  const registry = coordinatorRegistry(cluster);
  return listenHttp(
    host,
    port,
    'coordinator metrics (`metricsHost`/`metricsPort`)',
    metricsHandler(async () => ({ text: await registry.metrics(), contentType: registry.contentType })),
  );
}

/**
 * What watching costs (issue "See the cluster"): W1 and W2 on real daemons
 * (a coordinator and one agent, separate processes on loopback) with the
 * dashboard closed, then open in VIEWERS tabs (Server-Sent Events read as a
 * browser would, a snapshot a second each), with metrics on and scraped.
 * Also the daemons' resident memory with metrics on. Not a timed test: a
 * figure for the README, `pnpm bench -- --only dashboard`.
 */
import { createServer } from 'node:net';
import { here, daemon, keyEnv, rssMiB, runCli, stop, ussMiB } from '../lib/harness.mjs';

const VIEWERS = 4;

async function freePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A dashboard tab: reads the event stream until `stop()`, counting events and bytes. */
function viewer(url) {
  const controller = new AbortController();
  const seen = { events: 0, bytes: 0 };
  const done = (async () => {
    const res = await fetch(`${url}/events`, { signal: controller.signal });
    if (!res.ok) throw new Error(`dashboard answered ${res.status}`);
    for await (const chunk of res.body) {
      seen.bytes += chunk.length;
      seen.events += String(Buffer.from(chunk)).split('\n\n').length - 1;
    }
  })().catch((err) => {
    if (err.name !== 'AbortError') throw err;
  });
  return { seen, stop: () => (controller.abort(), done) };
}

async function jobWallMs(args, env, coordinator) {
  const r = await runCli(['submit', ...args, '--json', '--coordinator', coordinator], env);
  if (r.code !== 0) throw new Error(`job failed: ${r.stderr}`);
  return JSON.parse(r.stdout).stats.jobWallMs;
}

export async function run({ quick, repeat, report }) {
  const { env } = keyEnv();
  const dashboardPort = await freePort();
  const agent = await daemon(['agent', '--host', '127.0.0.1', '--port', '0', '--metrics-port', '0'], env);
  const coordinator = await daemon(
    ['coordinator', '--host', '127.0.0.1', '--port', '0', '--agent', agent.address, '--dashboard-port', String(dashboardPort), '--metrics-port', '0'],
    env,
  );
  const url = `http://127.0.0.1:${dashboardPort}`;
  const metricsUrls = [agent, coordinator].map((d) => /metrics at (\S+)\)/.exec(d.log())[1]);
  const w1Tasks = quick ? 2000 : 10_000;
  const w2 = quick ? ['--arg', 'tasks=8', '--arg', 'points=200000'] : [];
  try {
    // Warm: bundles cached, workers started.
    await jobWallMs([here('jobs/echo.ts'), '--arg', 'tasks=100'], env, coordinator.address);
    // Modes alternate within each round, so the machine's drift (others' load, warm-up) falls on both alike.
    const modes = {
      closed: { w1: Infinity, w2: Infinity, seconds: 0, bytes: 0, events: 0 },
      open: { w1: Infinity, w2: Infinity, seconds: 0, bytes: 0, events: 0 },
    };
    for (let i = 0; i < repeat; i++) {
      for (const [mode, m] of Object.entries(modes)) {
        const tabs = mode === 'open' ? Array.from({ length: VIEWERS }, () => viewer(url)) : [];
        const scraper = setInterval(
          () =>
            metricsUrls.map((u) =>
              fetch(u)
                .then((r) => r.text())
                .catch(() => {}),
            ),
          1000,
        );
        const started = performance.now();
        m.w1 = Math.min(m.w1, await jobWallMs([here('jobs/echo.ts'), '--arg', `tasks=${w1Tasks}`], env, coordinator.address));
        m.w2 = Math.min(m.w2, await jobWallMs([here('../examples/monte-carlo-pi.ts'), ...w2], env, coordinator.address));
        m.seconds += (performance.now() - started) / 1000;
        clearInterval(scraper);
        await Promise.all(tabs.map((t) => t.stop()));
        if (tabs[0]) (m.bytes += tabs[0].seen.bytes), (m.events += tabs[0].seen.events);
      }
    }
    for (const [mode, m] of Object.entries(modes)) {
      const label = mode === 'open' ? `dashboard open (${VIEWERS} tabs)` : 'dashboard closed';
      const sse = m.events ? { sseKiBPerTabPerS: +(m.bytes / 1024 / m.seconds).toFixed(1), eventsPerTab: m.events } : {};
      report.add('dashboard cost W1', label, (w1Tasks / m.w1) * 1000, 'tasks/s', { ms: m.w1, ...sse });
      report.add('dashboard cost W2', label, m.w2, 'ms job wall', {});
    }
    report.add('dashboard cost RSS', 'coordinator after the jobs, metrics on', rssMiB(coordinator.pid), 'MiB RSS');
    const closed = report.get('dashboard cost W1', 'dashboard closed').figure;
    const open = report.get('dashboard cost W1', 'dashboard open').figure;
    report.note(
      `dashboard: W1 with ${VIEWERS} tabs open runs at ${(open / closed).toFixed(2)}× the rate with none (snapshots are computed once a second for all tabs; their cost grows with nodes and jobs, not tasks)`,
    );
  } finally {
    await Promise.all([stop(coordinator), stop(agent)]);
  }
  await idleFootprints(env, report);
}

/** Idle daemons with and without metrics (scraped three times, so prom-client is loaded and has rendered). */
async function idleFootprints(env, report) {
  const local = ['--host', '127.0.0.1', '--port', '0'];
  for (const [name, args] of [
    ['agent, no metrics', ['agent', ...local, '--cores', '1']],
    ['agent, --metrics-port, scraped', ['agent', ...local, '--cores', '1', '--metrics-port', '0']],
    ['coordinator, --no-dashboard, no metrics', ['coordinator', ...local, '--no-dashboard']],
    ['coordinator, dashboard on, no metrics', ['coordinator', ...local, '--dashboard-port', '0']],
    ['coordinator, dashboard on, --metrics-port, scraped', ['coordinator', ...local, '--dashboard-port', '0', '--metrics-port', '0']],
  ]) {
    const d = await daemon(args, env);
    try {
      await new Promise((r) => setTimeout(r, 1500));
      const m = /metrics at (\S+)\)/.exec(d.log());
      if (m) for (let i = 0; i < 3; i++) await (await fetch(m[1])).text();
      await new Promise((r) => setTimeout(r, 500));
      report.add('idle footprint with metrics', name, rssMiB(d.pid), 'MiB RSS', { privateMiB: +ussMiB(d.pid).toFixed(1) });
    } finally {
      await stop(d);
    }
  }
}

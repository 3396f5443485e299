/** W5: idle daemons' resident memory: an agent and a coordinator connected to it, after a job has run and they went idle. */
import { daemon, here, keyEnv, rssKinds, rssMiB, runCli, stop, ussMiB } from '../lib/harness.mjs';

export async function run({ quick, report }) {
  const { env } = keyEnv();
  const agent = await daemon(['agent', '--host', '127.0.0.1', '--port', '0'], env);
  const coordinator = await daemon(['coordinator', '--host', '127.0.0.1', '--port', '0', '--agent', agent.address], env);
  try {
    await new Promise((r) => setTimeout(r, 1000));
    const fresh = { agent: rssMiB(agent.pid), coordinator: rssMiB(coordinator.pid) };
    const r = await runCli(['submit', here('jobs/trivial.ts'), '--coordinator', coordinator.address], env);
    if (r.code !== 0) throw new Error(`W5 job failed: ${r.stderr}`);
    // Worker threads are let go after 30 s idle; a quick run measures before that.
    await new Promise((r) => setTimeout(r, quick ? 1000 : 32_000));
    report.add('W5 idle footprint', 'picompute agent, started', fresh.agent, 'MiB RSS');
    report.add('W5 idle footprint', 'picompute coordinator, started', fresh.coordinator, 'MiB RSS');
    const idle = quick ? ' (1 s)' : '';
    const agentKinds = rssKinds(agent.pid);
    const agentRss = rssMiB(agent.pid);
    report.add('W5 idle footprint', `picompute agent, idle after a job${idle}`, agentRss, 'MiB RSS', {
      privateMiB: +ussMiB(agent.pid).toFixed(1),
      ...agentKinds,
    });
    report.add('W5 idle footprint', `picompute coordinator, idle after a job${idle}`, rssMiB(coordinator.pid), 'MiB RSS', {
      privateMiB: +ussMiB(coordinator.pid).toFixed(1),
      ...rssKinds(coordinator.pid),
    });
    const bare = await idleNode(['-e', 'setTimeout(() => {}, 60_000)']);
    report.add('W5 idle footprint', 'baseline: bare `node` idling', bare.rss, 'MiB RSS', { privateMiB: +bare.uss.toFixed(1), ...bare.kinds });
    const floor = await idleNode([here('baselines/tls-http2-floor.mjs'), here('../packages/sdk/dist/auth/cluster-tls.js')], true);
    report.add('W5 idle footprint', 'baseline: `node` after one mutual-TLS HTTP/2 request and one worker thread, idling', floor.rss, 'MiB RSS', {
      privateMiB: +floor.uss.toFixed(1),
      ...floor.kinds,
    });
    const over = (agentMiB, bareMiB) => (agentMiB - bareMiB).toFixed(1);
    report.note(
      `W5: agent after a job ${over(agentRss, bare.rss)} MiB RSS over a bare node (target ≤ 12): its own memory (anonymous: heap, stacks, buffers) ${over(agentKinds.anonMiB, bare.kinds.anonMiB)} MiB more, ` +
        `file-backed pages ${over(agentKinds.fileMiB, bare.kinds.fileMiB)} MiB more (the node binary's code that gRPC, HTTP/2 and TLS run: shared with every Node process, and the kernel may drop them); ` +
        'coordinator target ≤ 80 MiB RSS; privateMiB leaves out the pages every Node process shares',
    );
    report.note(
      `W5: a Node process that has only made one mutual-TLS HTTP/2 request and run one worker thread idles at ${over(floor.rss, bare.rss)} MiB RSS over a bare node ` +
        `(anonymous ${over(floor.kinds.anonMiB, bare.kinds.anonMiB)}, file-backed ${over(floor.kinds.fileMiB, bare.kinds.fileMiB)}): the least any Node agent speaking gRPC over TLS and running tasks on threads holds; ` +
        `the agent after a job is ${over(agentRss, floor.rss)} MiB RSS over it`,
    );
  } finally {
    await Promise.all([stop(coordinator), stop(agent)]);
  }
}

/**
 * A Node process of `args`, measured after a second idle: a bare node (it
 * writes nothing: opening its stdout alone adds ~2 MiB), or, `saysReady`, one
 * that prints `ready` once idle, such as the floor of a Node agent
 * (../baselines/tls-http2-floor.mjs).
 */
async function idleNode(args, saysReady = false) {
  const { spawn } = await import('node:child_process');
  const proc = spawn(process.execPath, args, { stdio: ['ignore', saysReady ? 'pipe' : 'ignore', 'inherit'] });
  try {
    if (saysReady) {
      let out = '';
      for await (const chunk of proc.stdout) if ((out += chunk).includes('ready')) break;
      if (!out.includes('ready')) throw new Error(`node ${args.join(' ')} ended before it was ready`);
    }
    await new Promise((r) => setTimeout(r, 1000));
    return { rss: rssMiB(proc.pid), uss: ussMiB(proc.pid), kinds: rssKinds(proc.pid) };
  } finally {
    await stop(proc, 'SIGKILL');
  }
}

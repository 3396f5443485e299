import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ON_NET, netnsProblem, sh } from './support/netns.js';
import { cannotRun } from './support/requirements.js';
import { CLI, fixture, runCli, startDaemon } from './support/cli.js';
import type { Daemon, Env, TestHost } from './support/cli.js';
import { processTree, socketsOf } from './support/proc.js';

const RUN = `rc${randomBytes(2).toString('hex')}`;
const host = (index: number): TestHost => ({ run: RUN, index });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const problem = netnsProblem();

/** The node process of a daemon started on a test host (cluster.sh execs down to it, but look below too). */
function nodePid(d: Daemon): number {
  const pid = processTree(d.proc.pid!).find((p) => {
    try {
      return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(CLI);
    } catch {
      return false;
    }
  });
  if (pid === undefined) throw new Error(`no picompute process below pid ${d.proc.pid}`);
  return pid;
}

/** UDP sockets on the mDNS port that the daemon's process holds. */
const mdnsSockets = (d: Daemon) => socketsOf(nodePid(d)).filter((s) => s.proto.startsWith('udp') && s.port === 5353);

if (problem !== undefined) cannotRun('README mDNS tests (network namespaces)', problem);
else
  describe('README: mDNS, inside network namespaces', () => {
    beforeAll(() => {
      sh('gc');
      sh('up', RUN, '2');
    });
    afterAll(() => {
      sh('down', RUN);
    });

    it('--no-mdns and PICOMPUTE_MDNS=off open no multicast socket; the same check sees one when mDNS is on', async () => {
      const started: Daemon[] = [];
      const start = async (args: string[], env: Env) => {
        const d = await startDaemon(args, { host: host(1), env });
        started.push(d);
        return d;
      };
      try {
        const flags = ['--port', '0'];
        const [agentOn, agentFlag, agentEnv, coordOn, coordFlag, coordEnv] = await Promise.all([
          start(['agent', ...flags, '--cores', '1'], ON_NET),
          start(['agent', ...flags, '--cores', '1', '--no-mdns'], ON_NET),
          start(['agent', ...flags, '--cores', '1'], { ...ON_NET, PICOMPUTE_MDNS: 'off' }),
          start(['coordinator', ...flags], ON_NET),
          start(['coordinator', ...flags, '--no-mdns'], ON_NET),
          start(['coordinator', ...flags], { ...ON_NET, PICOMPUTE_MDNS: 'off' }),
        ]);
        // The positive controls: with mDNS on, each daemon holds a UDP socket on 5353.
        for (const d of [agentOn!, coordOn!]) {
          const deadline = Date.now() + 20_000;
          while (mdnsSockets(d).length === 0 && Date.now() < deadline) await sleep(100);
          expect(mdnsSockets(d).length).toBeGreaterThan(0);
        }
        // Started at the same time, the others have had as long and opened none (nor any other UDP socket).
        for (const d of [agentFlag!, agentEnv!, coordFlag!, coordEnv!]) {
          expect(socketsOf(nodePid(d)).filter((s) => s.proto.startsWith('udp'))).toEqual([]);
        }
      } finally {
        await Promise.all(started.map((d) => d.stop('SIGKILL')));
      }
    });

    it('submit with mDNS on and no coordinator on the network runs on the embedded cluster and says so', async () => {
      const r = await runCli(['submit', fixture('slow-square.ts'), '--arg', 'n=4'], { host: host(2), env: ON_NET });
      expect(r.code).toBe(0);
      expect(r.stderr).toContain('no coordinator given or found: running on the embedded local cluster');
      expect(r.stdout.trim()).toBe('14');
    });

    it('queue, nodes and jobs find the coordinator by mDNS, with no address given', async () => {
      const coordinator = await startDaemon(['coordinator'], { host: host(1), env: ON_NET });
      const agent = await startDaemon(['agent', '--cores', '1'], { host: host(1), env: ON_NET });
      try {
        await coordinator.waitFor(/agent \S+ up at/, 30_000);
        const agentId = agent.output().match(/agent (\S+) listening/)![1]!;
        const submitted = await runCli(['submit', fixture('slow-square.ts'), '--json', '--arg', 'n=3'], { host: host(2), env: ON_NET });
        expect(JSON.parse(submitted.stdout)).toMatchObject({ state: 'COMPLETED', result: 5 });
        const nodes = await runCli(['nodes', '--json'], { host: host(2), env: ON_NET });
        expect(nodes.code).toBe(0);
        expect(JSON.parse(nodes.stdout).map((n: { info: { id: string } }) => n.info.id)).toEqual([agentId]);
        const jobs = await runCli(['jobs', '--json'], { host: host(2), env: ON_NET });
        expect(jobs.code).toBe(0);
        expect(JSON.parse(jobs.stdout)).toMatchObject([{ jobId: JSON.parse(submitted.stdout).jobId, state: 'COMPLETED' }]);
        const queue = await runCli(['queue'], { host: host(2), env: ON_NET });
        expect(queue.code).toBe(0);
        expect(queue.stdout).toMatch(/^JOBID\s+NAME\s+USER\s+STATE\(REASON\)/m);
      } finally {
        await Promise.all([agent.stop('SIGKILL'), coordinator.stop('SIGKILL')]);
      }
    });
  });

/**
 * mDNS is a hint, never a verdict: a stranger on the LAN who forges an
 * agent's goodbye or advertises its own "agent" changes nothing, because
 * only an agent that proves the cluster key in the TLS handshake counts and
 * only its stream says it is gone. Hosts (network namespaces, real mDNS):
 * 1 runs an agent, 2 the coordinator, 3 is the stranger and the client.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ON_NET, netnsProblem, sh } from './support/netns.js';
import { cannotRun } from './support/requirements.js';
import { CLUSTER_SH, fixture, makeKeyFile, runCli, startDaemon } from './support/cli.js';
import type { Daemon, TestHost } from './support/cli.js';

const RUN = randomBytes(2).toString('hex');
const host = (index: number): TestHost => ({ run: RUN, index });
const COORDINATOR = '10.213.7.12:7700';
const GOODBYE = new URL('./support/mdns-goodbye.mjs', import.meta.url).pathname;

const problem = netnsProblem();

if (problem !== undefined) cannotRun('mDNS spoofing tests (network namespaces)', problem);
else
  describe('a stranger on the LAN speaking mDNS', () => {
    let agent: Daemon;
    let coordinator: Daemon;
    let agentId: string;
    const nodes = async () =>
      JSON.parse((await runCli(['nodes', '--json', '--coordinator', COORDINATOR], { host: host(3), env: ON_NET })).stdout) as {
        info: { id: string };
        state: string;
      }[];

    beforeAll(async () => {
      sh('up', RUN, '3');
      agent = await startDaemon(['agent', '--cores', '1'], { host: host(1), env: ON_NET });
      agentId = /agent (\S+) listening/.exec(agent.output())![1]!;
      coordinator = await startDaemon(['coordinator'], { host: host(2), env: ON_NET });
      await coordinator.waitFor(/agent \S+ up at/, 30_000);
    }, 90_000);
    afterAll(async () => {
      await Promise.all([agent?.stop('SIGKILL'), coordinator?.stop('SIGKILL')]);
      sh('down', RUN);
    });

    it('a forged goodbye for a live agent does not remove it: it stays up and runs the next job', async () => {
      const sent = execFileSync('bash', [CLUSTER_SH, 'exec', RUN, '3', process.execPath, GOODBYE, agentId], { stdio: 'pipe' }).toString();
      expect(sent).toContain(`sent a forged goodbye for ${agentId}`);
      // The fault hit: the coordinator heard the goodbye.
      await coordinator.waitFor(new RegExp(`mDNS: agent ${agentId} said goodbye \\(a hint only`));
      expect((await nodes()).map((n) => [n.info.id, n.state])).toEqual([[agentId, 'idle']]);
      const r = await runCli(['submit', fixture('word-lengths.ts'), '--json', '--coordinator', COORDINATOR], { host: host(3), env: ON_NET });
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout).stats.nodes).toEqual([agentId]);
      expect(coordinator.output()).not.toMatch(/down \(/);
    });

    it("a stranger's advertised agent is dialled, fails the handshake, and gets no task", async () => {
      const stranger = await startDaemon(['agent', '--cores', '1', '--key-file', makeKeyFile('mdns-stranger.key')], { host: host(3), env: ON_NET });
      try {
        await coordinator.waitFor(
          /ignoring agent at 10\.213\.7\.13:\d+: this server is not part of your cluster \(it could not prove the cluster key\)/,
          30_000,
        );
        await stranger.waitFor(/refused a TLS connection from 10\.213\.7\.12: it hung up in the TLS handshake/);
        const r = await runCli(['submit', fixture('slow-square.ts'), '--arg', 'n=4', '--json', '--coordinator', COORDINATOR], { host: host(3), env: ON_NET });
        expect(r.code).toBe(0);
        expect(JSON.parse(r.stdout).stats.nodes).toEqual([agentId]);
        expect((await nodes()).map((n) => n.info.id)).toEqual([agentId]);
      } finally {
        await stranger.stop('SIGKILL');
      }
    });
  });

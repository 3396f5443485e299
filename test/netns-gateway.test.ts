/**
 * The gateway topology of a Pi cluster on a shelf: a master Pi with one leg
 * on the LAN (outer) and one on the cluster's own switch (inner), agents
 * only on the inner network, a user on the LAN. The agents are found by mDNS
 * on the inner network (started before the coordinator, so it has to ask
 * there, not only listen), the user submits to the coordinator's outer
 * address, and the job runs exactly; neither side has a route to the other.
 *
 *   host 4 (client, 10.213.7.14) ── outer br0 ── host 1 (coordinator, 10.213.7.11 + 10.213.8.11)
 *                                                 │
 *                                   inner br1 ── hosts 2, 3 (agents, 10.213.8.12/13)
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture, runCli, startDaemon } from './support/cli.js';
import type { Daemon, TestHost } from './support/cli.js';
import { ON_NET, netnsProblem, sh } from './support/netns.js';
import { cannotRun } from './support/requirements.js';
import { until } from './support/until.js';

const RUN = `gw${randomBytes(2).toString('hex')}`;
const host = (index: number): TestHost => ({ run: RUN, index });
const OUTER = '10.213.7.11:7700';

const problem = netnsProblem();

if (problem !== undefined) cannotRun('gateway topology (network namespaces)', problem);
else
  describe('gateway topology: coordinator on two networks, agents only on the inner one, the user only on the outer one', () => {
    const daemons: Daemon[] = [];
    let agentIds: string[] = [];

    beforeAll(async () => {
      sh('gc');
      sh('up', RUN, '4');
      sh('inner', RUN, '1');
      sh('inner', RUN, '2', '--only');
      sh('inner', RUN, '3', '--only');
      const agents = await Promise.all([2, 3].map((i) => startDaemon(['agent', '--cores', '1'], { host: host(i), env: ON_NET })));
      const published = Date.now();
      daemons.push(...agents);
      agentIds = agents.map((a) => a.output().match(/agent (\S+) listening/)![1]!);
      // bonjour-service announces a service about 1, 2, 5, 14 and 41 s after it is published. The coordinator starts
      // after the 5 s one and must find both agents before the 14 s one: only by asking on the inner network.
      await new Promise((r) => setTimeout(r, 7000));
      const coordinator = await startDaemon(['coordinator'], { host: host(1), env: ON_NET });
      daemons.push(coordinator);
      await coordinator.waitFor(/(mDNS: found agent \S+ at 10\.213\.8\.1[23]:7701[^]*){2}/, Math.max(500, published + 12_500 - Date.now()));
      await coordinator.waitFor(/(agent \S+ up at 10\.213\.8\.1[23]:7701[^]*){2}/, 30_000);
    }, 60_000);

    afterAll(async () => {
      await Promise.all(daemons.map((d) => d.stop('SIGKILL')));
      sh('down', RUN);
    });

    it('the client has no route to the inner network, nor the agents to the outer one', () => {
      const route = (i: number, to: string) => {
        try {
          return execFileSync('ip', ['-n', `pct${RUN}-h${i}`, 'route', 'get', to], { stdio: 'pipe' }).toString();
        } catch (err) {
          return String((err as { stderr?: Buffer }).stderr);
        }
      };
      expect(route(4, '10.213.8.12')).toMatch(/unreachable/i);
      expect(route(2, '10.213.7.14')).toMatch(/unreachable/i);
    });

    it('a job submitted to the outer address runs on the inner agents, exactly', async () => {
      const listed = await until('both agents idle, as the client sees them', async () => {
        const r = await runCli(['nodes', '--json', '--coordinator', OUTER], { host: host(4), env: ON_NET });
        const ns = JSON.parse(r.stdout || '[]') as { info: { id: string }; address: string; state: string }[];
        return ns.length === 2 && ns.every((n) => n.state === 'idle') ? ns : undefined;
      });
      expect(listed.map((n) => n.address).sort()).toEqual(['10.213.8.12:7701', '10.213.8.13:7701']);
      const r = await runCli(['submit', fixture('slow-square.ts'), '--arg', 'n=12', '--json', '--coordinator', OUTER], {
        host: host(4),
        env: ON_NET,
        timeoutMs: 120_000,
      });
      expect(r.code, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout);
      expect(out).toMatchObject({ state: 'COMPLETED', result: 506 });
      expect(out.stats.nodes.sort()).toEqual([...agentIds].sort());
    });

    it('on the inner network the coordinator is found by mDNS too, at its inner address (it answers on every interface)', async () => {
      // A wider look than the CLI's 1 s default: on a machine loaded by other test files, the coordinator's answer can come late.
      const env = { ...ON_NET, PICOMPUTE_DISCOVERY_MS: '5000' };
      const r = await runCli(['submit', fixture('slow-square.ts'), '--arg', 'n=12'], { host: host(2), env, timeoutMs: 120_000 });
      expect(r.stderr).toContain('found a coordinator by mDNS at 10.213.8.11:7700');
      expect(r.code, r.stderr).toBe(0);
      expect(Number(r.stdout.trim())).toBe(506);
    });
  });

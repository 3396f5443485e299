/**
 * A real multi-host cluster on this machine: test hosts made of network
 * namespaces (test/netns/cluster.sh), each with its own address and host
 * name, real mDNS, real gRPC, real process kills and link cuts. Traffic stays
 * on the private test subnet. Hosts 1–3 run agents (one core each), host 4
 * the coordinator, host 5 submits; nothing is told an address.
 *
 * Needs root, iproute2 and util-linux (avahi too for the mDNS test). Without
 * them the tests fail in CI with the reason and are skipped, loudly, elsewhere
 * (test/support/requirements.ts).
 *
 * Each test brings the cluster to the state it needs (all agents up, or one
 * stopped) so it passes alone and in any order. Time bounds are hang guards;
 * how fast a node is seen down is `pnpm bench -- --multi-host`'s business.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ON_NET, netnsProblem, sh } from './support/netns.js';
import { CLUSTER_SH, fixture, runCli, startDaemon } from './support/cli.js';
import type { Daemon, TestHost } from './support/cli.js';
import { cannotRun, missingCommands } from './support/requirements.js';

const EXAMPLE = new URL('../examples/monte-carlo-pi.ts', import.meta.url).pathname;
const RUN = randomBytes(2).toString('hex');
const host = (index: number): TestHost => ({ run: RUN, index });
const COORDINATOR = '10.213.7.14:7700';
/** A W2-shaped job whose tasks still run when a node is killed. */
const PI_ARGS = ['--arg', 'tasks=24', '--arg', 'points=15000000'];

const problem = netnsProblem();
const avahiMissing = missingCommands(['avahi-daemon', 'avahi-browse', 'dbus-daemon']);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

if (problem !== undefined) cannotRun('multi-host cluster tests (network namespaces)', problem);
else
  describe('multi-host cluster in network namespaces', () => {
    const agents = new Map<number, Daemon>();
    let coordinator: Daemon;
    let expectedPi: number;

    const startAgentOn = async (i: number, extra: string[] = []) => {
      const d = await startDaemon(['agent', '--cores', '1', ...extra], { host: host(i), env: ON_NET });
      agents.set(i, d);
      return d;
    };
    const idOf = (i: number) =>
      agents
        .get(i)!
        .output()
        .match(/agent (\S+) listening/)![1]!;
    const submit = (args: string[]) => runCli(['submit', ...args, '--json'], { host: host(5), env: ON_NET, timeoutMs: 120_000 });
    const nodes = async () =>
      JSON.parse((await runCli(['nodes', '--json', '--coordinator', COORDINATOR], { host: host(5), env: ON_NET })).stdout) as {
        info: { id: string };
        state: string;
        coresBusy: number;
      }[];
    /** Polls `picompute nodes` until `check` holds (the limit is a hang guard); returns the ms it took. */
    const until = async (check: (n: Awaited<ReturnType<typeof nodes>>) => boolean, limitMs = 20_000) => {
      const started = Date.now();
      while (Date.now() - started < limitMs) {
        if (check(await nodes())) return Date.now() - started;
        await sleep(100);
      }
      throw new Error(`nodes did not reach the expected state within ${limitMs} ms: ${JSON.stringify(await nodes())}`);
    };
    /** Starts the W2-shaped job from host 5 and resolves with its parsed JSON. */
    const runPi = (args = PI_ARGS) =>
      submit([EXAMPLE, ...args, '--coordinator', COORDINATOR]).then((r) => ({ ...r, out: r.stdout ? JSON.parse(r.stdout) : undefined }));
    const alive = (d: Daemon | undefined) => !!d && d.proc.exitCode === null && d.proc.signalCode === null;
    /** Restarts whatever agent an earlier test left stopped, and waits until all three are idle. */
    const allAgentsUp = async () => {
      for (const i of [1, 2, 3]) if (!alive(agents.get(i))) await startAgentOn(i);
      await until((ns) => [1, 2, 3].every((i) => ns.some((n) => n.info.id === idOf(i) && n.state === 'idle')), 30_000);
    };
    /** Kills agent i with SIGKILL once it is running a task, and checks that the kill happened. */
    const killWhileBusy = async (i: number) => {
      await until((ns) => ns.some((n) => n.info.id === idOf(i) && n.coresBusy > 0), 30_000);
      const agent = agents.get(i)!;
      await agent.stop('SIGKILL');
      expect(agent.proc.signalCode).toBe('SIGKILL');
    };

    beforeAll(async () => {
      sh('gc');
      sh('up', RUN, '5', '--rate', '1gbit');
      const local = await runCli(['submit', EXAMPLE, ...PI_ARGS, '--json', '--local']);
      expectedPi = JSON.parse(local.stdout).result;
      coordinator = await startDaemon(['coordinator'], { host: host(4), env: ON_NET });
      await Promise.all([1, 2, 3].map((i) => startAgentOn(i)));
      await coordinator.waitFor(/(agent \S+ up at[^]*){3}/);
    }, 120_000);

    afterAll(async () => {
      await Promise.all([...agents.values(), coordinator].map((d) => d?.stop('SIGKILL')));
      sh('down', RUN);
    });

    it('discovers everything with no address given: a job from a fourth host finds the coordinator and uses all agents', async () => {
      await allAgentsUp();
      const r = await runCli(['submit', fixture('slow-square.ts'), '--arg', 'n=12'], { host: host(5), env: ON_NET });
      expect(r.stderr).toContain(`found a coordinator by mDNS at ${COORDINATOR}`);
      expect(r.code).toBe(0);
      expect(Number(r.stdout.trim())).toBe(506);
      const json = await submit([fixture('slow-square.ts'), '--arg', 'n=12']);
      expect(JSON.parse(json.stdout).stats.nodes.sort()).toEqual([idOf(1), idOf(2), idOf(3)].sort());
    });

    if (avahiMissing.length) cannotRun('a real mDNS stack (avahi) sees our agents', `${avahiMissing.join(', ')} not installed`);
    else
      it('a real mDNS stack (avahi) sees our agents with their TXT records, and an agent runs beside avahi', async () => {
        await allAgentsUp();
        const bus = sh('avahi', RUN, '3').trim();
        // Restart the agent of host 3 on a host where avahi-daemon now runs too.
        await agents.get(3)!.stop('SIGTERM');
        await startAgentOn(3, ['--label', 'pi5', '--label', 'fast']);
        let listing = '';
        for (let i = 0; i < 20 && (listing.match(/^=.*_picompute\._tcp/gm) ?? []).length < 3; i++) {
          await sleep(500);
          listing = execFileSync('bash', [CLUSTER_SH, 'exec', RUN, '3', 'avahi-browse', '-rpt', '_picompute._tcp'], {
            env: { ...process.env, DBUS_SYSTEM_BUS_ADDRESS: bus },
          }).toString();
        }
        const resolved = listing.split('\n').filter((l) => l.startsWith('=') && l.includes('IPv4'));
        expect(resolved.map((l) => l.split(';')[3]).sort()).toEqual([idOf(1), idOf(2), idOf(3)].sort());
        const h3 = resolved.find((l) => l.includes(idOf(3)))!;
        expect(h3).toContain('10.213.7.13;7701');
        expect(h3).toContain('"labels=pi5,fast"');
        expect(h3).toMatch(/"cores=1".*"id=/);
        await until((ns) => ns.some((n) => n.info.id === idOf(3) && n.state === 'idle'));
        const r = await submit([fixture('slow-square.ts'), '--arg', 'n=12', '--coordinator', COORDINATOR]);
        expect(JSON.parse(r.stdout).stats.nodes).toContain(idOf(3));
      });

    it('a --json result far larger than a pipe holds arrives whole at a reader on another host', async () => {
      await allAgentsUp();
      const r = await submit([fixture('concat.ts'), '--arg', 'n=100000', '--coordinator', COORDINATOR]);
      expect(r.code).toBe(0);
      expect(r.stdout.length).toBeGreaterThan(512 * 1024);
      expect(JSON.parse(r.stdout).result).toBe(Array.from({ length: 100_000 }, (_, i) => i).join(','));
    });

    it('an agent killed with SIGKILL mid-job: exact answer, node seen down, its task run again, back in use after a restart', async () => {
      await allAgentsUp();
      const job = runPi();
      await killWhileBusy(1);
      await until((ns) => ns.some((n) => n.info.id === idOf(1) && n.state === 'down'));
      const { out, stderr } = await job;
      expect(out, stderr).toMatchObject({ state: 'COMPLETED', result: expectedPi });
      expect(out.stats.retries).toBeGreaterThan(0);
      await startAgentOn(1);
      await until((ns) => ns.some((n) => n.info.id === idOf(1) && n.state === 'idle'));
      const again = await submit([fixture('slow-square.ts'), '--arg', 'n=12', '--coordinator', COORDINATOR]);
      expect(JSON.parse(again.stdout).stats.nodes).toContain(idOf(1));
      // ~40 s alone (a job, a death noticed, a restart); a full parallel run on 2 cores needs the room.
    }, 120_000);

    it("an agent's link cut mid-job, then restored: exact answer, node seen down, its task run again, then up again", async () => {
      await allAgentsUp();
      const job = runPi();
      await until((ns) => ns.some((n) => n.info.id === idOf(2) && n.coresBusy > 0), 30_000);
      sh('link', RUN, '2', 'down');
      try {
        await until((ns) => ns.some((n) => n.info.id === idOf(2) && n.state === 'down'));
      } finally {
        sh('link', RUN, '2', 'up');
      }
      const { out, stderr } = await job;
      expect(out, stderr).toMatchObject({ state: 'COMPLETED', result: expectedPi });
      expect(out.stats.retries).toBeGreaterThan(0);
      await until((ns) => ns.some((n) => n.info.id === idOf(2) && n.state === 'idle'), 30_000);
    });

    it('a clean agent stop: its stream closes and the node shows `down (stopped)` (its mDNS goodbye is heard, as a hint only)', async () => {
      await allAgentsUp();
      const id = idOf(3);
      await agents.get(3)!.stop('SIGTERM');
      expect(agents.get(3)!.proc.exitCode).toBe(0);
      await until((ns) => ns.some((n) => n.info.id === id && n.state === 'down (stopped)'), 15_000);
      await coordinator.waitFor(new RegExp(`agent ${id} said goodbye \\(a hint only`));
    });

    it('an agent started mid-job gets tasks before the job ends', async () => {
      await allAgentsUp();
      const id = idOf(3);
      await agents.get(3)!.stop('SIGTERM');
      await until((ns) => ns.some((n) => n.info.id === id && n.state === 'down (stopped)'));
      // Four times the usual job (~12 s on the two agents left): on a loaded machine the usual one ended before a
      // new agent's start, announcement and first dial did.
      const job = runPi(['--arg', 'tasks=96', '--arg', 'points=15000000']);
      await until((ns) => ns.some((n) => n.coresBusy > 0), 30_000);
      await startAgentOn(3);
      const { out } = await job;
      expect(out).toMatchObject({ state: 'COMPLETED' });
      expect(Math.abs(out.result - Math.PI)).toBeLessThan(0.001);
      expect(out.stats.nodes).toContain(idOf(3));
    });

    it('an agent whose address changes (a new DHCP lease) announces again and is dialled at the new address', async () => {
      await allAgentsUp();
      const id = idOf(2);
      // As a DHCP client does: the old lease goes, the new one and its routes come. Run alone or again, it swaps back.
      const ip = (...args: string[]) => execFileSync('ip', ['-n', `pct${RUN}-h2`, ...args]).toString();
      const [from, to] = ip('-4', 'addr', 'show', 'dev', 'eth0').includes('10.213.7.12/') ? ['12', '22'] : ['22', '12'];
      ip('addr', 'del', `10.213.7.${from}/24`, 'dev', 'eth0');
      ip('addr', 'add', `10.213.7.${to}/24`, 'dev', 'eth0');
      ip('route', 'replace', '224.0.0.0/4', 'dev', 'eth0');
      await coordinator.waitFor(new RegExp(`mDNS: found agent ${id} at 10\\.213\\.7\\.${to}:7701`), 25_000);
      await until(
        (ns) => ns.some((n) => n.info.id === id && n.state === 'idle' && (n as unknown as { address: string }).address === `10.213.7.${to}:7701`),
        20_000,
      );
      const { out } = await runPi();
      expect(out).toMatchObject({ state: 'COMPLETED', result: expectedPi });
    }, 60_000);

    it('repeated: a random busy agent killed and restarted mid-job, 5 runs in a row, always the exact answer with its task run again', async () => {
      await allAgentsUp();
      for (let run = 0; run < 5; run++) {
        const job = runPi();
        const victim = 1 + Math.floor(Math.random() * 3);
        await killWhileBusy(victim);
        await sleep(600);
        await startAgentOn(victim);
        const { out, stderr } = await job;
        expect(out, stderr).toMatchObject({ state: 'COMPLETED', result: expectedPi });
        expect(out.stats.retries, `run ${run}: agent ${victim} was killed busy, yet no task ran again`).toBeGreaterThan(0);
      }
    }, 360_000);
  });

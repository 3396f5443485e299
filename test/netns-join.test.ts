/**
 * Joining a bare host with the one line of `picompute join-command`, on test
 * hosts made of network namespaces: host 1 runs the coordinator (from the
 * installed release tarball, as a Pi would), host 2 is a fresh host with
 * only node and the basic commands (no pnpm, no compiler; its /etc, /opt, …
 * are overlays, so the installer's user, unit and key land in a scratch
 * folder: test/netns/bare-host.sh), host 3 is the user's machine. systemd
 * does not run here: the installer says so, and the test starts the agent
 * as the written unit's ExecStart, User and EnvironmentFile say.
 *
 * The refusals run on host 4 (a second coordinator with another key
 * answering on host 1's address, a token whose secret was altered) and 5
 * (no node): each stops with its message and leaves nothing written.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { ChildProcess } from 'node:child_process';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { bareHost } from './support/bare-host.js';
import type { BareHost } from './support/bare-host.js';
import { CLUSTER_SH, makeKeyFile, runCli, startDaemon } from './support/cli.js';
import type { Daemon, TestHost } from './support/cli.js';
import { netnsProblem, sh } from './support/netns.js';
import { installRelease, packageRelease } from './support/release.js';
import type { Installed } from './support/release.js';
import { cannotRun } from './support/requirements.js';
import { until } from './support/until.js';

const EXAMPLE = new URL('../examples/monte-carlo-pi.ts', import.meta.url).pathname;
const RUN = randomBytes(2).toString('hex');
const host = (index: number): TestHost => ({ run: RUN, index });
const COORDINATOR = '10.213.7.11:7700';
const COORDINATOR_FLAGS = ['coordinator', '--port', '7700', '--dashboard-host', '0.0.0.0', '--dashboard-port', '7702'];
const UNIT = '/etc/systemd/system/picompute-agent.service';

/** The unit's settings, one value per key (the installer writes each once). */
function unitSettings(text: string): Record<string, string> {
  return Object.fromEntries(
    text
      .split('\n')
      .filter((l) => /^[A-Za-z]+=/.test(l))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
}

const quote = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;

/** Agents started by a test, stopped after it: they all run as the uid of `picompute`, whom an uninstall must be able to remove. */
const running = new Set<ChildProcess>();

/** Starts the installed agent as systemd would: the unit's User, Group, WorkingDirectory, EnvironmentFile and ExecStart. */
async function startAsUnit(b: BareHost) {
  const unit = unitSettings(b.written(UNIT)!);
  const env = b
    .written(unit.EnvironmentFile!)!
    .split('\n')
    .filter((l) => /^\w+=/.test(l));
  const agent = b.start(
    `cd ${unit.WorkingDirectory} && exec setpriv --reuid=${unit.User} --regid=${unit.Group} --init-groups ` +
      `env -i ${env.map(quote).join(' ')} PICOMPUTE_MDNS=off PICOMPUTE_LOG_FORMAT=text ${unit.ExecStart}`,
  );
  running.add(agent.proc);
  await until('the installed agent registers', async () => (/registered with the coordinator/.test(agent.output()) ? true : undefined), 30_000).catch(
    (err: Error) => {
      throw new Error(`${err.message}; its output:\n${agent.output()}`);
    },
  );
  return { ...agent, id: /agent (\S+) listening/.exec(agent.output())![1]! };
}

const problem = netnsProblem();
if (problem !== undefined) cannotRun('joining a bare host with the one-line installer (network namespaces)', problem);
else
  describe('one-line join of a bare host', () => {
    let release: Installed;
    let coordinator: Daemon | undefined;
    const bare: BareHost[] = [];

    beforeAll(() => {
      release = installRelease(packageRelease());
      sh('gc');
      sh('up', RUN, '5');
    }, 120_000);
    afterEach(async () => {
      await Promise.all(
        [...running].map(
          (p) =>
            new Promise<void>((resolve) => {
              if (p.exitCode !== null || p.signalCode !== null) return resolve();
              p.once('exit', () => resolve());
              p.kill('SIGKILL');
            }),
        ),
      );
      running.clear();
    });
    afterAll(async () => {
      for (const b of bare) b.down();
      await coordinator?.stop();
      sh('down', RUN);
    });

    const newBareHost = (index: number, o: { node?: boolean } = {}) => {
      const b = bareHost(RUN, index, o);
      bare.push(b);
      return b;
    };
    /** The cluster's coordinator on host 1, from the release (the impostor test stops its own first). */
    const realCoordinator = async () => {
      coordinator ??= await startDaemon(COORDINATOR_FLAGS, { host: host(1), cli: release.bin });
    };
    const joinLine = async (keyFile?: string) => {
      const r = await runCli(['join-command', ...(keyFile ? ['--key-file', keyFile] : [])], { host: host(1) });
      expect(r.code, r.stderr).toBe(0);
      // Before the impostor test starts its coordinator nothing answers, and join-command warns so.
      expect(r.stderr).toMatch(
        coordinator
          ? /^Run it on each new node as root \(1 node, within 24h\)\.\n$/
          : /Warning: no coordinator serves the installer at http:\/\/10\.213\.7\.11:7702/,
      );
      return r.stdout.trim();
    };

    it('a coordinator with another key on the same address: the node stops at the pin, learns nothing, writes nothing', async () => {
      const line = await joinLine();
      const impostor = await startDaemon(COORDINATOR_FLAGS, { host: host(1), cli: release.bin, env: { PICOMPUTE_KEY_FILE: makeKeyFile('impostor.key') } });
      try {
        const b = newBareHost(4);
        const r = await b.sh(line);
        expect(r.code).not.toBe(0);
        expect(r.stderr).toMatch(/the coordinator at http:\/\/10\.213\.7\.11:7702 is not the one this token was made for: its cluster certificate is sha256:/);
        expect(r.stderr).toMatch(/nothing secret was sent to it/);
        expect(r.stderr).toMatch(/nothing was installed/);
        expect(b.changes()).toEqual([]);
        expect(impostor.output()).not.toMatch(/join: /);

        const noNode = newBareHost(5, { node: false });
        const n = await noNode.sh(line);
        expect(n.code).not.toBe(0);
        expect(n.stderr).toMatch(/Node\.js is not installed: picompute runs on plain Node\.js, nothing else\. install Node\.js 20 or newer/);
        expect(noNode.changes()).toEqual([]);
      } finally {
        await impostor.stop();
      }
    }, 90_000);

    it('the join desk answers without a login on the dashboard port; the dashboard itself still asks for one', async () => {
      await realCoordinator();
      const status = (path: string) =>
        execFileSync('bash', [
          CLUSTER_SH,
          'exec',
          RUN,
          '3',
          'curl',
          '-s',
          '-o',
          '/dev/null',
          '-w',
          '%{http_code}',
          `http://10.213.7.11:7702${path}`,
        ]).toString();
      expect(status('/install/version')).toBe('200');
      expect(status('/install.sh')).toBe('200');
      expect(status('/picompute.tgz')).toBe('200');
      expect(status('/')).toBe('401');
      expect(status('/events')).toBe('401');
    });

    it('a token whose secret was altered: the coordinator refuses it, the node writes nothing', async () => {
      await realCoordinator();
      const line = await joinLine();
      const at = line.length - 6;
      const bad = line.slice(0, at) + (line[at] === 'A' ? 'B' : 'A') + line.slice(at + 1);
      const b = newBareHost(4);
      const r = await b.sh(bad);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/refused the join: this join token was not made with this cluster's key \(its secret does not match\)/);
      expect(b.changes()).toEqual([]);
    }, 90_000);

    it("the installer's checks: an armv6 board, a clock 60+ s off, a full disk: each stops with what to do and writes nothing", async () => {
      await realCoordinator();
      const line = await joinLine();
      const cases: [string, string, RegExp][] = [
        [
          'uname',
          'if [ "$1" = -m ]; then echo armv6l; else exec /usr/bin/uname "$@"; fi',
          /this is an armv6 board \(armv6l: a Pi Zero or Pi 1\), for which there is no Node\.js 20/,
        ],
        [
          'date',
          'if [ "$1" = +%s ]; then echo 1000000000; else exec /usr/bin/date "$@"; fi',
          /this host's clock is \d+ s off the coordinator's .*: the cluster's authentication allows 120 s\. Set the time \(sudo timedatectl set-ntp true/,
        ],
        [
          'df',
          'echo "Filesystem 1024-blocks Used Available Capacity Mounted on"; echo "/dev/root 1000000 990000 10000 99% /"',
          /only 9 MB free for \/opt\/picompute: picompute and its job cache need 200 MB/,
        ],
      ];
      for (const [command, script, message] of cases) {
        const b = newBareHost(4);
        b.fake(command, script);
        const r = await b.sh(line);
        expect(r.code, command).not.toBe(0);
        expect(r.stderr).toMatch(message);
        expect(b.changes()).toEqual([]);
      }
    }, 90_000);

    it('the printed line installs the agent on a bare host; started as its unit says, it joins, shows in `nodes` and runs a job', async () => {
      await realCoordinator();
      const line = await joinLine();
      expect(line).toMatch(/^curl -sfL http:\/\/10\.213\.7\.11:7702\/install\.sh \| sh -s -- --token PC1[\w-]{82}$/);
      const b = newBareHost(2);
      const r = await b.sh(line, 120_000);
      expect(r.stderr).toMatch(/verified the coordinator at http:\/\/10\.213\.7\.11:7702 \(cluster sha256:[0-9a-f]{16}\)/);
      expect(r.stderr).toMatch(/systemd is not running on this host, so \/etc\/systemd\/system\/picompute-agent\.service is written but not started/);
      expect(r.code, r.stderr).toBe(0);

      const unit = unitSettings(b.written(UNIT)!);
      expect(unit).toMatchObject({ User: 'picompute', Restart: 'always', EnvironmentFile: '/etc/picompute/agent.env' });
      expect(unit.ExecStart).toMatch(/ \/opt\/picompute\/current\/bin\/picompute\.mjs agent --coordinator 10\.213\.7\.11:7700$/);
      expect(b.mode('/etc/picompute/cluster.key')).toBe(0o600);
      expect(b.mode('/etc/picompute/agent.env')).toBe(0o600);
      expect(b.written('/etc/passwd')).toMatch(/^picompute:x:\d+:\d+::\/var\/lib\/picompute:\/usr\/sbin\/nologin$/m);
      expect(b.written('/opt/picompute/uninstall.sh')).toMatch(/userdel picompute/);

      const agent = await startAsUnit(b);

      const nodes = await runCli(['nodes', '--json', '--coordinator', COORDINATOR], { host: host(3) });
      const list = JSON.parse(nodes.stdout) as { info: { id: string; hostname?: string; version?: string }; state: string }[];
      expect(list).toHaveLength(1);
      expect(list[0]!.state).toBe('idle');
      expect(JSON.stringify(list[0])).toMatch(new RegExp(`pct${RUN}-h2-bare`));

      const job = await runCli(['submit', EXAMPLE, '--arg', 'tasks=4', '--arg', 'points=200000', '--json', '--coordinator', COORDINATOR], {
        host: host(3),
        timeoutMs: 120_000,
      });
      expect(JSON.parse(job.stdout)).toMatchObject({ state: 'COMPLETED' });
      expect(JSON.parse(job.stdout).result).toBeCloseTo(Math.PI, 1);

      const again = await b.sh(line);
      expect(again.code, again.stderr).toBe(0);
      expect(again.stderr).toMatch(/picompute \d+\.\d+\.\d+ is installed and is the coordinator's version: nothing to do/);

      // An older install (its package says 0.0.1) is upgraded in place by the same line; the key stays.
      const key = b.written('/etc/picompute/cluster.key');
      await b.sh(`sed -i 's/"version": "[^"]*"/"version": "0.0.1"/' /opt/picompute/current/package.json`);
      const upgrade = await b.sh(line);
      expect(upgrade.code, upgrade.stderr).toBe(0);
      expect(upgrade.stderr).toMatch(/upgrading picompute 0\.0\.1 to \d+\.\d+\.\d+ \(the cluster key in \/etc\/picompute stays\)/);
      expect(b.written('/opt/picompute/current/package.json')).not.toMatch(/0\.0\.1/);
      expect(b.written('/etc/picompute/cluster.key')).toBe(key);
      agent.proc.kill('SIGTERM');
    }, 180_000);

    it('the upgrade README gives (drain, the line again, start, resume) loses no task of a running job', async () => {
      await realCoordinator();
      const line = await joinLine();
      const b = newBareHost(4);
      expect((await b.sh(line, 120_000)).code).toBe(0);
      const first = await startAsUnit(b);
      const nodes = async () =>
        JSON.parse((await runCli(['nodes', '--json', '--coordinator', COORDINATOR], { host: host(3) })).stdout) as {
          info: { id: string };
          state: string;
          coresBusy: number;
        }[];
      // Tasks of a second or more each, two waves on the node's cores.
      // More tasks than the first batch (two per core), so some wait through the upgrade.
      const job = runCli(['submit', EXAMPLE, '--arg', 'tasks=10', '--arg', 'points=4000000', '--json', '--coordinator', COORDINATOR], {
        host: host(3),
        timeoutMs: 170_000,
      });
      await until('tasks run on the node', async () => ((await nodes()).find((n) => n.info.id === first.id)?.coresBusy ? true : undefined), 60_000);
      const drain = await runCli(['drain', first.id, '--coordinator', COORDINATOR], { host: host(3) });
      expect(drain.code, drain.stderr).toBe(0);
      await until(
        'its running tasks finish',
        async () => ((await nodes()).find((n) => n.info.id === first.id)?.state === 'drained' ? true : undefined),
        90_000,
      );

      first.proc.kill('SIGTERM');
      await b.sh(`sed -i 's/"version": "[^"]*"/"version": "0.0.1"/' /opt/picompute/current/package.json`);
      const upgrade = await b.sh(line, 120_000);
      expect(upgrade.stderr).toMatch(/upgrading picompute 0\.0\.1 to/);
      const second = await startAsUnit(b);
      // The same machine comes back as the same node, still drained until resumed.
      expect(second.id).toBe(first.id);
      const resume = await runCli(['resume', second.id, '--coordinator', COORDINATOR], { host: host(3) });
      expect(resume.code, resume.stderr).toBe(0);

      const done = await job;
      expect(done.code, `${done.stderr}\ncoordinator:\n${coordinator!.output().slice(-3000)}\nagent:\n${second.output()}`).toBe(0);
      expect(JSON.parse(done.stdout), done.stderr).toMatchObject({ state: 'COMPLETED' });
      expect(JSON.parse(done.stdout).result).toBeCloseTo(Math.PI, 2);
      // Nothing ran twice: no task was lost with the stopped agent.
      expect(coordinator!.output()).not.toMatch(/attempt 2/);
      expect(done.stderr).not.toMatch(/attempt 2/);
      second.proc.kill('SIGTERM');
    }, 180_000);

    it('without curl the installer fetches with node; its uninstall script removes what it wrote', async () => {
      await realCoordinator();
      const line = await joinLine();
      const b = newBareHost(4);
      b.fake('curl');
      // How such a host runs the line: node fetches the script, the installer fetches the rest with node too.
      const viaNode = line.replace(/^curl -sfL (\S+) \|/, `node -e 'fetch(process.argv[1]).then((r) => r.text()).then((t) => process.stdout.write(t))' $1 |`);
      const r = await b.sh(viaNode, 120_000);
      expect(r.code, r.stderr).toBe(0);
      expect(b.written('/opt/picompute/current/package.json')).toMatch(/"name": "picompute"/);

      const gone = await b.sh('/opt/picompute/uninstall.sh');
      expect(gone.code, gone.stderr).toBe(0);
      expect(gone.stdout).toMatch(/picompute removed from this host/);
      expect(b.written('/opt/picompute/current/package.json')).toBeUndefined();
      expect(b.written(UNIT)).toBeUndefined();
      expect(b.written('/etc/picompute/cluster.key')).toBeUndefined();
      expect(b.written('/usr/local/bin/picompute')).toBeUndefined();
      expect(b.written('/etc/passwd') ?? '').not.toMatch(/^picompute:/m);
    }, 120_000);
  });

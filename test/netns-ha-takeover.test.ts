/**
 * Issue 17's takeover on separate hosts (network namespaces, real mDNS):
 * PostgreSQL on host 1, two coordinators on hosts 2 and 3, three agents on
 * hosts 4–6 that nobody names (the leading coordinator finds them by mDNS),
 * and a client on host 7. Both coordinators announce themselves with their
 * role; a client looking by mDNS takes the leader. Five jobs in flight,
 * SIGKILL the leader: the standby leads (the time is logged, not asserted),
 * announces itself as the leader, finds the agents, and every job completes
 * exactly with the history whole. A third coordinator with PICOMPUTE_MDNS=off
 * stands by unannounced.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture, printDaemonLogsOnFailure, runCli, startDaemon, stateDir } from './support/cli.js';
import type { Daemon, TestHost } from './support/cli.js';
import { ON_NET, netnsProblem, sh } from './support/netns.js';
import { postgresProblem, startPostgres } from './support/postgres.js';
import type { TestPostgres } from './support/postgres.js';
import { cannotRun } from './support/requirements.js';
import { until } from './support/until.js';

const RUN = randomBytes(2).toString('hex');
const host = (index: number): TestHost => ({ run: RUN, index });
const at = (index: number) => `10.213.7.${10 + index}:7700`;
const [FIRST, SECOND] = [at(2), at(3)];
const BOTH = `${FIRST},${SECOND}`;
// The default lease: a shorter one was missed by a leader starved of CPU under a loaded CI run.
const LEASE = '3s';
const LOOK = new URL('./support/mdns-coordinators.mjs', import.meta.url).pathname;
const sumSquares = (n: number) => Array.from({ length: n }, (_, i) => i * i).reduce((a, b) => a + b, 0);

const problem = netnsProblem() ?? postgresProblem();

if (problem !== undefined) cannotRun('standby takeover across namespace hosts (PostgreSQL, mDNS)', problem);
else
  describe('standby takeover across namespace hosts', () => {
    let pg: TestPostgres | undefined;
    const daemons: Daemon[] = [];
    /** From the client's host; `coordinator` null looks by mDNS. */
    const cli = (args: string[], coordinator: string | null = BOTH, timeoutMs = 60_000) =>
      runCli([...args, ...(coordinator ? ['--coordinator', coordinator] : [])], { host: host(7), env: ON_NET, timeoutMs });
    /** The coordinators' records as the client's host hears them: address → role. */
    const announced = async () => {
      const r = await runCli(['1500'], { host: host(7), env: ON_NET, cli: LOOK });
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(r.stdout) as Record<string, string>;
    };
    const announcedOnce = (what: string, check: (roles: Record<string, string>) => boolean) =>
      until(what, async () => {
        const roles = await announced();
        return check(roles) ? roles : undefined;
      });

    beforeAll(async () => {
      sh('gc');
      sh('up', RUN, '7');
      pg = await startPostgres({ netns: `pct${RUN}-h1`, address: '10.213.7.11', subnet: '10.213.7.0/24' });
    }, 60_000);

    // A CI run once saw a job not end within 40 s of the takeover: the daemons' logs say which one waited, and for what.
    printDaemonLogsOnFailure(daemons);

    afterAll(async () => {
      await Promise.all(daemons.map((d) => d.stop('SIGKILL')));
      try {
        pg?.stop();
      } finally {
        sh('down', RUN);
      }
    });

    it('SIGKILL the leader: the standby leads and announces it, finds the agents, and every job completes exactly', async () => {
      const db = pg!.database();
      const coordinatorOn = async (i: number, env = ON_NET) => {
        const d = await startDaemon(
          [
            'coordinator',
            '--no-dashboard',
            '--state',
            pg!.url(db),
            '--state-password-file',
            pg!.passwordFile(),
            '--state-dir',
            stateDir(),
            '--lease',
            LEASE,
            '--advertise-address',
            at(i),
          ],
          { host: host(i), env },
        );
        daemons.push(d);
        return d;
      };
      const leader = await coordinatorOn(2);
      for (const i of [4, 5, 6]) daemons.push(await startDaemon(['agent', '--cores', '1'], { host: host(i), env: ON_NET }));
      await leader.waitFor(/(agent \S+ up at[^]*){3}/, 30_000);
      const standby = await coordinatorOn(3);
      await standby.waitFor(/standby listening on \S+ ; coordinator \S+ at \S+ leads/);

      // Both announce themselves, each with its role; a client looking by mDNS takes the leader, never the standby.
      expect(await announcedOnce('both coordinators announced', (roles) => !!roles[SECOND])).toEqual({
        [FIRST]: 'leader',
        [SECOND]: 'standby',
      });
      const submitted: string[] = [];
      // Without --json it says where mDNS led it; it prints "Submitted job ID".
      const first = await cli(['submit', fixture('counted.ts'), '--no-wait', '--arg', 'n=6', '--arg', 'ms=300'], null);
      expect(first.code, first.stderr).toBe(0);
      expect(first.stderr).toMatch(new RegExp(`found a coordinator by mDNS at ${FIRST.replaceAll('.', '\\.')}\\b`));
      submitted.push(first.stdout.match(/Submitted job (\S+)/)![1]!);
      for (const n of [6, 6, 6]) {
        const r = await cli(['submit', fixture('counted.ts'), '--no-wait', '--json', '--arg', `n=${n}`, '--arg', 'ms=300']);
        expect(r.code, r.stderr).toBe(0);
        submitted.push(JSON.parse(r.stdout).jobId);
      }
      // The fifth waits for its result through the kill, its coordinator found by mDNS: it looks there again and follows the job to the new leader.
      const waiting = cli(['submit', fixture('counted.ts'), '--json', '--arg', 'n=6', '--arg', 'ms=1500'], null, 80_000);
      await until('the fifth job in and running', async () => {
        const jobs = JSON.parse((await cli(['jobs', '--json'])).stdout) as { jobId: string; endedAtMs: number }[];
        return jobs.some((j) => !submitted.includes(j.jobId) && j.endedAtMs === 0) || undefined;
      });

      const killedAt = Date.now();
      await leader.stop('SIGKILL');
      await standby.waitFor(/leading \(epoch 2\)/, 30_000);
      // Measured, not asserted: on a loaded machine it may take longer.
      console.log(`takeover across hosts: the standby led ${Date.now() - killedAt} ms after the leader's SIGKILL (lease ${LEASE})`);
      // Nobody names the agents: the new leader finds them by mDNS.
      await standby.waitFor(/(agent \S+ up at[^]*){3}/, 30_000);
      expect(await announcedOnce('the new leader announced as such', (roles) => roles[SECOND] === 'leader')).toEqual({
        [SECOND]: 'leader',
      });
      const roles = await cli(['coordinators', '--json'], null);
      expect(JSON.parse(roles.stdout).map((r: { address: string; role: string }) => [r.address, r.role])).toEqual([[SECOND, 'leader']]);

      const waited = await waiting;
      // The tasks the agents ran on through the kill, handed over to the new leader (logged, not asserted: an agent found
      // by mDNS after the new leader's grace has seen its tasks placed elsewhere meanwhile).
      for (const line of standby.output().match(/agent \S+ holds \d+ task\(s\) from an earlier coordinator: [^\n]*/g) ?? []) console.log(line);
      expect(waited.code, waited.stderr).toBe(0);
      expect(waited.stderr).not.toMatch(/lost the coordinator/);
      expect(JSON.parse(waited.stdout)).toMatchObject({ state: 'COMPLETED', result: sumSquares(6) });
      submitted.push(JSON.parse(waited.stdout).jobId);
      const history = await until(
        'all five jobs finished',
        async () => {
          const r = await cli(['jobs', '--json']);
          if (r.code !== 0) return undefined;
          const jobs = JSON.parse(r.stdout) as { jobId: string; state: string; endedAtMs: number }[];
          return jobs.length === 5 && jobs.every((j) => j.endedAtMs > 0) ? jobs : undefined;
        },
        40_000,
      );
      expect(history.map((j) => [j.jobId, j.state])).toEqual(submitted.map((id) => [id, 'COMPLETED']));
      // A machine that stalls for seconds (a CI run once saw every agent silent for 7 s after the takeover) makes the new
      // leader declare its agents lost and run their tasks again, as it must: exactly once is then not what is promised.
      const lostAfter = /agent \S+ at \S+ down \(no heartbeat/.test(standby.output());
      for (const id of submitted) {
        expect((await cli(['result', id])).stdout.trim()).toBe(String(sumSquares(6)));
        const logs = JSON.parse((await cli(['logs', id, '--json'])).stdout) as { task: number }[];
        const tasks = logs.map((l) => l.task).sort((a, b) => a - b);
        if (lostAfter) {
          console.log(`job ${id}: tasks logged ${tasks.join(' ')} (the new leader lost its agents for a while: a task may have run twice)`);
          expect([...new Set(tasks)]).toEqual([0, 1, 2, 3, 4, 5]);
        }
        // Each task logged once per run it completed: one stored before the kill never ran again.
        else expect(tasks).toEqual([0, 1, 2, 3, 4, 5]);
      }
      // PICOMPUTE_MDNS=off holds for a standby too: it announces nothing. Checked once the jobs are done, and without
      // asking who leads: a leader starved of CPU on a loaded machine may miss its lease, and this standby, which looks
      // for no agent and announces nothing, would then lead a cluster no client finds (CI runs saw it take the lead
      // while the jobs were still running, twice).
      const quiet = await coordinatorOn(1, { ...ON_NET, PICOMPUTE_MDNS: 'off' });
      await quiet.waitFor(/standby listening on|leading \(epoch/);
      expect(Object.keys(await announced())).not.toContain(at(1));
      expect(quiet.output()).not.toMatch(/mDNS/);
      await quiet.stop('SIGKILL');
    }, 90_000);
  });

/**
 * `picompute dashboard` prints (and with --open opens) a login URL for the
 * coordinator's web dashboard; `picompute trace ID` writes a finished job's
 * tasks as Chrome trace events. Both sign a short-lived token with the
 * cluster key (see @picompute/coordinator's dashboard/auth.ts): the key
 * itself never leaves this machine.
 */
import { spawn } from 'node:child_process';
import type { Command } from 'commander';
import type { SecurityFlags } from '@picompute/sdk/auth';
import { action, parsePort, UsageError } from '../errors.js';
import { securityFrom, withSecurityFlags } from '../security-flags.js';
import { DEFAULT_DASHBOARD_PORT } from './daemons.js';

interface DashboardFlags extends SecurityFlags {
  coordinator?: string;
  dashboardPort: string;
  valid: string;
  open?: boolean;
}

function withDashboardFlags(cmd: Command): Command {
  return withSecurityFlags(
    cmd
      .option(
        '-c, --coordinator <host[:port]>',
        'the coordinator whose dashboard to open (default: PICOMPUTE_COORDINATOR, else one found by mDNS, else 127.0.0.1)',
      )
      .option('--dashboard-port <port>', 'its --dashboard-port', String(DEFAULT_DASHBOARD_PORT))
      .option('--valid <duration>', 'how long the login token is good for (at most 24h)', '10m'),
  );
}

/** The dashboard's base URL and a fresh token (none without a key: only a loopback dashboard would let us in). */
async function target(flags: DashboardFlags): Promise<{ base: string; token?: string }> {
  const { locateCoordinator } = await import('@picompute/sdk/client');
  const { formatAddress } = await import('@picompute/sdk/wire');
  const { parseDuration } = await import('@picompute/sdk/units');
  const located = (await locateCoordinator(flags.coordinator))?.address ?? '127.0.0.1';
  const host = hostOf(located);
  const base = `http://${formatAddress({ host, port: parsePort(flags.dashboardPort, '--dashboard-port') })}`;
  const validMs = parseDuration(flags.valid, '--valid');
  const security = await securityFrom(flags);
  if (!security.key) return { base };
  const { DashboardAuth, MAX_LOGIN_TOKEN_MS } = await import('@picompute/coordinator/dashboard-auth');
  if (validMs > MAX_LOGIN_TOKEN_MS) throw new UsageError(`--valid ${flags.valid} is longer than the dashboard accepts (24h)`);
  return { base, token: new DashboardAuth(security.key).loginToken(Date.now() + validMs) };
}

/** The host of `host:port`, `[v6]:port`, a bare host or a bare IPv6 address. */
function hostOf(address: string): string {
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(address);
  if (bracketed) return bracketed[1]!;
  const parts = address.split(':');
  return parts.length === 2 ? parts[0] || '127.0.0.1' : address;
}

export function registerDashboard(program: Command): void {
  withDashboardFlags(
    program.command('dashboard').description('print a login URL for the coordinator’s web dashboard (a token signed with the cluster key, good for --valid)'),
  )
    .option('--open', 'also open it in the browser (xdg-open)')
    .action(
      action(async (flags: DashboardFlags) => {
        const { base, token } = await target(flags);
        const url = token ? `${base}/login?token=${token}` : `${base}/`;
        console.log(url);
        if (!token) process.stderr.write('no cluster key found: this URL works only for a dashboard bound to loopback\n');
        if (flags.open)
          spawn('xdg-open', [url], { stdio: 'ignore', detached: true })
            .on('error', (err) => process.stderr.write(`cannot open a browser (${err.message}); open the URL above yourself\n`))
            .unref();
      }),
    );

  withDashboardFlags(
    program
      .command('trace <jobId>')
      .description(
        'write a finished job’s tasks as Chrome trace events (one track per agent thread): picompute trace 12 > job.json, then open it in ' +
          'Perfetto or chrome://tracing',
      ),
  ).action(
    action(async (jobId: string, flags: DashboardFlags) => {
      const { base, token } = await target(flags);
      const res = await fetch(`${base}/api/trace/${encodeURIComponent(jobId)}`, { headers: token ? { authorization: `Bearer ${token}` } : {} }).catch(
        (err: Error) => {
          throw new UsageError(
            `cannot reach the dashboard at ${base} (${(err.cause as Error)?.message ?? err.message}): traces come from the coordinator's dashboard; ` +
              'check --coordinator and --dashboard-port',
          );
        },
      );
      const body = await res.text();
      if (!res.ok) throw new UsageError(`the dashboard at ${base} answered ${res.status}: ${body.trim()}`);
      process.stdout.write(body.endsWith('\n') ? body : `${body}\n`);
    }),
  );
}

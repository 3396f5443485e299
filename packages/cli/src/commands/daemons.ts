/** `picompute agent` and `picompute coordinator`: the two daemons, stopped cleanly by SIGTERM or SIGINT. */
import type { Command } from 'commander';
import type { Agent } from '@picompute/agent';
import type { Coordinator } from '@picompute/coordinator';
import type { SecurityFlags } from '@picompute/sdk/auth';
import { action, collect, parseCount, parsePort } from '../errors.js';
import { mdnsEnabled } from '@picompute/sdk/env';
import { pathOption } from '../user-path.js';
import { daemonLogger } from '../daemon-log.js';
import type { LogFlags } from '../daemon-log.js';
import { securityFrom, withSecurityFlags } from '../security-flags.js';

export const DEFAULT_COORDINATOR_PORT = 7700;
export const DEFAULT_AGENT_PORT = 7701;
/** The coordinator's web dashboard, beside its gRPC port. */
export const DEFAULT_DASHBOARD_PORT = 7702;

/** Resolves when the process is asked to stop; a second signal exits at once. */
function untilSignal(): Promise<string> {
  return new Promise((resolve) => {
    const stop = (signal: string) => {
      process.once(signal as NodeJS.Signals, () => process.exit(130));
      resolve(signal);
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}

async function maxMessageBytes(text: string | undefined): Promise<number | undefined> {
  if (text === undefined) return undefined;
  const { parseSize } = await import('@picompute/sdk/units');
  return parseSize(text, '--max-message') * 1024 * 1024;
}

/** Starts a daemon, says where it listens, and runs until SIGTERM or SIGINT, then closes it. */
async function serve<D extends { close(): Promise<void>; steppedDown?: Promise<string> }>(
  who: string,
  flags: LogFlags,
  start: (log: (line: string) => void) => Promise<D>,
  describe: (daemon: D) => string,
): Promise<void> {
  const say = daemonLogger(who, flags);
  // Listening for signals before saying where it listens: a SIGTERM sent the moment the line is read must stop it cleanly, not kill it.
  const stopped = untilSignal();
  // A standby coordinator starts only when it leads: a signal before that stops it where it stands.
  const daemon = await Promise.race([start(say), stopped.then(() => undefined)]);
  if (!daemon) {
    say('stopping');
    process.exit(0);
  }
  say(describe(daemon));
  const signal = await Promise.race([stopped, daemon.steppedDown?.then(() => 'stepped down') ?? new Promise<never>(() => {})]);
  say(`${signal}: stopping`);
  await daemon.close();
  // Stepping down is not a clean stop: a service manager that restarts the coordinator makes it a standby.
  if (signal === 'stepped down') process.exit(3);
}

/** The flags both daemons take: where to listen, the message limit, mDNS, and the key and TLS. */
function daemonCommand(program: Command, name: string, description: string, port: number, mdns: string): Command {
  return withSecurityFlags(
    program
      .command(name)
      .description(description)
      .option('--host <address>', 'address to listen on; anything but loopback needs the cluster key', '0.0.0.0')
      .option('-p, --port <port>', 'port to listen on (0 picks one)', String(port))
      .option('--max-message <size>', 'largest message a peer may send; an agent also splits its results to stay under it (default 64M)')
      .option('--no-mdns', `${mdns} (also: PICOMPUTE_MDNS=off)`)
      .option('--metrics-port <port>', 'serve Prometheus metrics at /metrics on this port (0 picks one; default: no metrics)')
      .option('--metrics-host <address>', 'address for --metrics-port; needs no key, so anything but loopback exposes the metrics to the network', '127.0.0.1')
      .option('--log-format <format>', 'json or text (default: text on a terminal, else json; also PICOMPUTE_LOG_FORMAT)')
      .option('--log-level <level>', 'debug, info, warn or error: lines below it are dropped', 'info'),
  );
}

/** The coordinator's refusals name its options (stateUrl…): here they name the flags the user typed. */
const COORDINATOR_FLAGS: [RegExp, string][] = [
  [/\bstateUrl\b/g, '--state'],
  [/\bstatePasswordFile\b/g, '--state-password-file'],
  [/\bstateDir\b/g, '--state-dir'],
];

async function withCoordinatorFlags<O, R>(start: (options: O) => Promise<R>, options: O): Promise<R> {
  try {
    return await start(options);
  } catch (err) {
    if (err instanceof Error) for (const [option, flag] of COORDINATOR_FLAGS) err.message = err.message.replace(option, flag);
    throw err;
  }
}

/** --metrics-port given: the port; else no metrics. */
const metricsPort = (flags: { metricsPort?: string }) => (flags.metricsPort === undefined ? undefined : parsePort(flags.metricsPort));
// After the address and a space: tests and scripts read the address up to the first space.
const metricsNote = (d: { metricsUrl?: string }) => (d.metricsUrl ? ` (metrics at ${d.metricsUrl})` : '');

export function registerDaemons(program: Command): void {
  daemonCommand(
    program,
    'agent',
    'run tasks for a coordinator on this node, one worker thread per core',
    DEFAULT_AGENT_PORT,
    'do not publish this agent over mDNS',
  )
    .option('--cores <n>', 'worker threads to run (default: every core)')
    .option(
      '--label <label>',
      'label this node for --constraint; repeatable (the agent adds arch=… and, on a board with a device tree, model=… itself)',
      collect,
      [],
    )
    .option(
      '--coordinator <host:port>',
      'register with this coordinator (when it cannot find or name this agent), or with several: a,b (the leading one takes it)',
    )
    .option('--advertise-address <host:port>', 'address the coordinator should dial, when it differs from --host:--port')
    .option('--task-memory <size>', 'default per-task heap limit, e.g. 512M')
    .option('--cache-dir <dir>', 'where job bundles are cached (default ~/.cache/picompute/agent)', pathOption)
    .option('--chunk-cache <size>', 'disk kept under --cache-dir for the input chunks of --input jobs, least recently used dropped first (default 1G)')
    .option('--thermal-path <file>', 'CPU temperature file in millidegrees (default /sys/class/thermal/thermal_zone0/temp)', pathOption)
    .option(
      '--throttle-path <file>',
      "the Pi firmware's throttle state (default /sys/devices/platform/soc/soc:firmware/get_throttled, else `vcgencmd get_throttled`)",
      pathOption,
    )
    .option('--model-path <file>', 'the board model for the model= label (default /proc/device-tree/model)', pathOption)
    .option('--no-speed-probe', "do not measure this node's speed per core at start (it then counts as fast as the fastest node)")
    .option('--speed-probe-every <duration>', 'measure it again this often while no task runs, the best of the last 3 counting (0: never)', '10m')
    .action(
      action(
        async (
          flags: SecurityFlags & {
            mdns: boolean;
            host: string;
            port: string;
            cores?: string;
            label: string[];
            coordinator?: string;
            advertiseAddress?: string;
            taskMemory?: string;
            cacheDir?: string;
            chunkCache?: string;
            maxMessage?: string;
            thermalPath?: string;
            throttlePath?: string;
            modelPath?: string;
            speedProbe: boolean;
            speedProbeEvery: string;
            metricsPort?: string;
            metricsHost: string;
          } & LogFlags,
        ) => {
          const { hideKeyFromJobs, startAgent } = await import('@picompute/agent');
          const { parseDuration, parseSize } = await import('@picompute/sdk/units');
          await serve(
            'agent',
            flags,
            async (say) => {
              const security = await securityFrom(flags);
              // Job code runs in this process: once read, the key leaves its environment.
              hideKeyFromJobs(say);
              return startAgent({
                host: flags.host,
                security,
                port: parsePort(flags.port),
                cores: flags.cores === undefined ? undefined : parseCount(flags.cores, '--cores'),
                labels: flags.label,
                coordinator: flags.coordinator,
                advertiseAddress: flags.advertiseAddress,
                taskMemoryMb: flags.taskMemory === undefined ? undefined : parseSize(flags.taskMemory, '--task-memory'),
                cacheDir: flags.cacheDir,
                chunkCacheBytes: flags.chunkCache === undefined ? undefined : parseSize(flags.chunkCache, '--chunk-cache') * 1024 * 1024,
                maxMessageBytes: await maxMessageBytes(flags.maxMessage),
                mdns: flags.mdns && mdnsEnabled(),
                thermalPath: flags.thermalPath,
                throttlePath: flags.throttlePath,
                modelPath: flags.modelPath,
                speedProbeMs: flags.speedProbe ? undefined : 0,
                speedReprobeMs: parseDuration(flags.speedProbeEvery, '--speed-probe-every'),
                metricsPort: metricsPort(flags),
                metricsHost: flags.metricsHost,
                log: say,
              });
            },
            (agent: Agent) => `agent ${agent.info.id} listening on ${agent.address} with ${agent.info.cores} cores${metricsNote(agent)}`,
          );
        },
      ),
    );

  daemonCommand(program, 'coordinator', 'schedule jobs onto agents', DEFAULT_COORDINATOR_PORT, 'do not look for agents or announce this coordinator over mDNS')
    .option('--agent <host:port>', 'dial this agent (where mDNS does not reach); repeatable', collect, [])
    .option('--state-dir <dir>', 'where jobs, results and logs are kept (default ~/.local/state/picompute)', pathOption)
    .option(
      '--state <url>',
      'keep them in PostgreSQL instead, postgres://user@host/database (no password: see --state-password-file); coordinators on one database lead by turns',
    )
    .option('--state-password-file <file>', 'file holding the PostgreSQL password (default: PGPASSFILE, else ~/.pgpass)', pathOption)
    .option('--lease <duration>', 'with --state: how long a leader may go silent before a standby takes over', '3s')
    .option('--advertise-address <host:port>', 'with --state: the address clients and standbys are told to dial for this coordinator')
    .option('--keep <duration>', 'how long finished jobs and their results are kept', '7d')
    .option(
      '--default-time-limit <duration>',
      "per-task time limit of a job submitted without --time-limit, so a task that never settles cannot hold its job forever (like Slurm's DefaultTime)",
      '1h',
    )
    .option('--max-time-limit <duration>', "the most --time-limit a job may ask for; a submit over it is refused (like Slurm's MaxTime; default: no cap)")
    .option('--upload-quota <size>', "disk one user's uploaded inputs may hold while they wait for their submit (default 2G)")
    .option('--chunk-store <size>', 'disk kept for input chunks no running job uses, so the next submit of the same files sends nothing (default 2G)')
    .option('--backup-after <duration>', "a job's task running this long (and twice its phase's median) gets a backup copy on another node (default 10s)")
    .option(
      '--runs-grace <duration>',
      "after a restart, how long a keyed job waits for the agents holding its maps' outputs before those maps run again (default 30s)",
    )
    .option('--dashboard-port <port>', `serve the web dashboard on this port (default ${DEFAULT_DASHBOARD_PORT}; see \`picompute dashboard\`)`)
    .option('--dashboard-host <address>', 'address for the dashboard; anything but loopback needs the login URL of `picompute dashboard`', '127.0.0.1')
    .option('--no-dashboard', 'do not serve the dashboard')
    .action(
      action(
        async (
          flags: SecurityFlags & {
            mdns: boolean;
            host: string;
            port: string;
            agent: string[];
            maxMessage?: string;
            stateDir?: string;
            state?: string;
            statePasswordFile?: string;
            lease: string;
            advertiseAddress?: string;
            keep: string;
            defaultTimeLimit: string;
            maxTimeLimit?: string;
            uploadQuota?: string;
            chunkStore?: string;
            backupAfter?: string;
            runsGrace?: string;
            metricsPort?: string;
            metricsHost: string;
            dashboard: boolean;
            dashboardPort?: string;
            dashboardHost: string;
          } & LogFlags,
        ) => {
          const { parseDuration, parseSize } = await import('@picompute/sdk/units');
          const { startCoordinator } = await import('@picompute/coordinator');
          await serve(
            'coordinator',
            flags,
            async (say) =>
              withCoordinatorFlags(startCoordinator, {
                host: flags.host,
                port: parsePort(flags.port),
                agents: flags.agent,
                stateDir: flags.stateDir,
                stateUrl: flags.state,
                statePasswordFile: flags.statePasswordFile,
                leaseMs: parseDuration(flags.lease, '--lease'),
                advertiseAddress: flags.advertiseAddress,
                keepMs: parseDuration(flags.keep, '--keep'),
                defaultTimeLimitMs: parseDuration(flags.defaultTimeLimit, '--default-time-limit'),
                maxTimeLimitMs: flags.maxTimeLimit === undefined ? undefined : parseDuration(flags.maxTimeLimit, '--max-time-limit'),
                backupAfterMs: flags.backupAfter === undefined ? undefined : parseDuration(flags.backupAfter, '--backup-after'),
                runsGraceMs: flags.runsGrace === undefined ? undefined : parseDuration(flags.runsGrace, '--runs-grace'),
                uploadQuotaBytes: flags.uploadQuota === undefined ? undefined : parseSize(flags.uploadQuota, '--upload-quota') * 1024 * 1024,
                chunkStoreBytes: flags.chunkStore === undefined ? undefined : parseSize(flags.chunkStore, '--chunk-store') * 1024 * 1024,
                security: await securityFrom(flags),
                maxMessageBytes: await maxMessageBytes(flags.maxMessage),
                mdns: flags.mdns && mdnsEnabled(),
                metricsPort: metricsPort(flags),
                metricsHost: flags.metricsHost,
                dashboard: flags.dashboard
                  ? {
                      host: flags.dashboardHost,
                      port: flags.dashboardPort === undefined ? DEFAULT_DASHBOARD_PORT : parsePort(flags.dashboardPort),
                      optional: flags.dashboardPort === undefined,
                    }
                  : undefined,
                log: say,
              }),
            (coordinator: Coordinator) => `coordinator listening on ${coordinator.address}${metricsNote(coordinator)}`,
          );
        },
      ),
    );
}

/**
 * Library messages (sdk, agent, coordinator) name options in backticks, as an
 * SDK user sets them (`timeLimit`, the coordinator's `stateDir`); a CLI user
 * sets flags. What the CLI prints from a library (an error, a job's error, a
 * daemon's log line) goes through flagsIn, so the user reads the flag they
 * can type. A name not in the table is left as it is.
 */
export const OPTION_FLAGS: Readonly<Record<string, string>> = {
  // submit
  timeLimit: '--time-limit',
  memPerTask: '--mem-per-task',
  dependency: '--dependency',
  retries: '--retries',
  maxInputs: '--max-inputs',
  maxInputBytes: '--max-input-bytes',
  input: '--input',
  maxNodeLosses: '--max-node-losses',
  partitions: '--partitions',
  cacheDir: '--cache-dir',
  // requeue, result, init
  failed: '--failed',
  partialResult: '--partial',
  force: '--force',
  tls: '--tls',
  // key and TLS, every command
  keyFile: '--key-file',
  tlsCa: '--tls-ca',
  tlsCert: '--tls-cert',
  tlsKey: '--tls-key',
  coordinator: '--coordinator',
  // the daemons
  host: '--host',
  labels: '--label',
  maxMessageBytes: '--max-message',
  metricsHost: '--metrics-host',
  metricsPort: '--metrics-port',
  'dashboard.host': '--dashboard-host',
  'dashboard.port': '--dashboard-port',
  stateDir: '--state-dir',
  keepMs: '--keep',
  maxTimeLimitMs: '--max-time-limit',
  uploadQuotaBytes: '--upload-quota',
};

/** Where the flag is no rename of the option: the dashboard is on unless --no-dashboard. */
export const OPTION_PHRASES: readonly [string, string][] = [['leave out the `dashboard` option', 'pass --no-dashboard']];

const QUOTED = /`([A-Za-z.]+)`/g;

/** `text` with each backticked option name the CLI has a flag for replaced by that flag. */
export function flagsIn<T extends string | undefined>(text: T): T {
  if (text === undefined) return text;
  let out: string = text;
  for (const [option, flag] of OPTION_PHRASES) out = out.replaceAll(option, flag);
  return out.replace(QUOTED, (quoted, name: string) => OPTION_FLAGS[name] ?? quoted) as T;
}

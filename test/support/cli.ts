/**
 * Runs the built `picompute` command as a child process, the way a user
 * does, and starts daemons whose address is read from their own log line.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, beforeEach } from 'vitest';

export const CLI = fileURLToPath(new URL('../../packages/cli/dist/bin/picompute.mjs', import.meta.url));
export const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));

/**
 * Every child runs with its own empty config dir (no stray default key from
 * the machine) and, unless a test says otherwise, one shared cluster key.
 */
const CONFIG_DIR = mkdtempSync(join(tmpdir(), 'picompute-test-config-'));
export const KEY_FILE = join(CONFIG_DIR, 'test-cluster.key');
writeFileSync(KEY_FILE, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });

export type Env = Record<string, string | undefined>;

export function childEnv(env: Env = {}): NodeJS.ProcessEnv {
  // PICOMPUTE_MDNS=off: outside the test network namespaces nothing may multicast onto the machine's real network.
  // PICOMPUTE_LOG_FORMAT=text: daemons log JSON when not on a terminal; tests read the readable lines.
  const merged: Env = {
    ...process.env,
    XDG_CONFIG_HOME: CONFIG_DIR,
    XDG_CACHE_HOME: join(CONFIG_DIR, 'cache'),
    XDG_STATE_HOME: join(CONFIG_DIR, 'state'),
    PICOMPUTE_KEY_FILE: KEY_FILE,
    PICOMPUTE_KEY: undefined,
    PICOMPUTE_COORDINATOR: undefined,
    PICOMPUTE_MDNS: 'off',
    PICOMPUTE_LOG_FORMAT: 'text',
    ...env,
  };
  return Object.fromEntries(Object.entries(merged).filter(([, v]) => v !== undefined)) as NodeJS.ProcessEnv;
}

/** A fresh, empty state dir for an in-process coordinator. */
export function stateDir(): string {
  return mkdtempSync(join(tmpdir(), 'picompute-state-'));
}

/** Writes another key file (mode 600) and returns its path. */
export function makeKeyFile(name: string): string {
  const path = join(CONFIG_DIR, name);
  writeFileSync(path, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
  return path;
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** A test host of a network-namespace cluster (test/netns/cluster.sh). */
export interface TestHost {
  run: string;
  index: number;
}

export const CLUSTER_SH = fileURLToPath(new URL('../netns/cluster.sh', import.meta.url));

/** The command line that runs the CLI here, or on a test host with its own host name. */
function command(args: string[], host?: TestHost, cli = CLI): [string, string[]] {
  if (!host) return [process.execPath, [cli, ...args]];
  return ['bash', [CLUSTER_SH, 'exec', host.run, String(host.index), process.execPath, cli, ...args]];
}

/** `cli`: another build of the command to run (an installed release), default the workspace's. */
export function runCli(args: string[], options: { timeoutMs?: number; cwd?: string; env?: Env; host?: TestHost; cli?: string } = {}): Promise<CliResult> {
  const started = Date.now();
  const [cmd, argv] = command(args, options.host, options.cli);
  const child = spawn(cmd, argv, { cwd: options.cwd, env: childEnv(options.env), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
  return new Promise((resolve) =>
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: Date.now() - started });
    }),
  );
}

export interface Daemon {
  proc: ChildProcess;
  address: string;
  output: () => string;
  /** Resolves when the daemon's log has a line matching `pattern`. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Sends a signal and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const p of running) p.kill('SIGKILL');
});

/** `prefix`: a command the daemon's command line is handed to, e.g. one that moves itself into a cgroup and execs the rest (./cgroup.ts). */
/** A daemon's address as a client on this machine dials it (a wildcard bind is reached on loopback). */
export const loopback = (d: Daemon) => d.address.replace('0.0.0.0', '127.0.0.1');

export async function startDaemon(args: string[], options: { env?: Env; host?: TestHost; cli?: string; prefix?: string[] } = {}): Promise<Daemon> {
  // Each coordinator gets its own state unless the test names one (restart tests do).
  if (args[0] === 'coordinator' && !args.includes('--state-dir')) args = [...args, '--state-dir', stateDir()];
  const [bare, bareArgv] = command(args, options.host, options.cli);
  const [cmd, argv] = options.prefix?.length ? [options.prefix[0]!, [...options.prefix.slice(1), bare, ...bareArgv]] : [bare, bareArgv];
  const proc = spawn(cmd, argv, { env: childEnv(options.env), stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(proc);
  let out = '';
  const waiters = new Set<() => void>();
  const onData = (d: Buffer) => {
    out += d;
    for (const w of waiters) w();
  };
  proc.stdout!.on('data', onData);
  proc.stderr!.on('data', onData);
  const exited = new Promise<number | null>((resolve) =>
    proc.on('exit', (code) => {
      running.delete(proc);
      resolve(code);
    }),
  );
  const waitFor = (pattern: RegExp, timeoutMs = 15_000) =>
    new Promise<string>((resolve, reject) => {
      const check = () => {
        const m = pattern.exec(out);
        if (m) {
          waiters.delete(check);
          clearTimeout(timer);
          resolve(m[1] ?? m[0]);
        }
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`daemon ${args.join(' ')} did not log ${pattern} within ${timeoutMs} ms; its output:\n${out}`));
      }, timeoutMs);
      waiters.add(check);
      check();
    });
  const address = await waitFor(/listening on (\S+)/);
  return {
    proc,
    address,
    output: () => out,
    waitFor,
    async stop(signal = 'SIGTERM') {
      if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
      proc.kill(signal);
      return exited;
    },
  };
}

/** An embedded cluster and a client connected to it, for tests that drive the SDK. */
export async function localClient(cores = 2) {
  const { startLocalCluster } = await import('@picompute/cli');
  const cluster = await startLocalCluster({ cores });
  return { cluster, client: await cluster.connect(), close: () => cluster.close() };
}

/** Registers hooks that start an embedded cluster for the enclosing describe block and close it after. */
export function useLocalClient(cores = 2): { readonly client: import('@picompute/sdk/client').Client } {
  let local: Awaited<ReturnType<typeof localClient>> | undefined;
  beforeAll(async () => {
    local = await localClient(cores);
  });
  afterAll(async () => {
    await local?.close();
  });
  return {
    get client() {
      return local!.client;
    },
  };
}

/**
 * For a describe block: when one of its tests fails, prints what each of
 * `daemons` logged (the daemons the tests start, as they are at the failure):
 * a test's own message says only what it waited for, their logs say why.
 */
export function printDaemonLogsOnFailure(daemons: readonly Daemon[]): void {
  beforeEach(({ onTestFailed }) => onTestFailed(() => console.error(daemons.map((d) => `${d.address} said:\n${d.output()}`).join('\n'))));
}

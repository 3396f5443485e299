/**
 * The environment variables that change how picompute finds things, read in
 * this one module so the `picompute` command and a script using the SDK
 * behave alike (a variable honoured by one and not the other is a trap).
 *
 * - PICOMPUTE_COORDINATOR: `host:port` of the coordinator when none is named.
 * - PICOMPUTE_MDNS=off (or 0, false, no): no mDNS at all, neither publishing nor looking.
 * - PICOMPUTE_DISCOVERY_MS: how long to look for a coordinator by mDNS (default 1000).
 * - PICOMPUTE_LOG_FORMAT=json|text: how daemons log (default: text on a terminal, JSON elsewhere).
 * - INIT_CWD: the directory a user ran `pnpm picompute …` from (pnpm runs the
 *   command inside the clone and passes the user's own directory here).
 *
 * (The cluster key's variables are read in ./auth/key.ts.)
 */
import { dirname, resolve } from 'node:path';

/** The coordinator named by PICOMPUTE_COORDINATOR, if any. */
export function coordinatorFromEnv(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return env.PICOMPUTE_COORDINATOR?.trim() || undefined;
}

/** mDNS is on unless PICOMPUTE_MDNS says off (tests set it, so nothing multicasts onto a real LAN). */
export function mdnsEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  return !/^(off|0|false|no)$/i.test(env.PICOMPUTE_MDNS?.trim() ?? '');
}

/** How long to look for a coordinator by mDNS: PICOMPUTE_DISCOVERY_MS, default 1 s. */
export function discoverTimeoutMs(env: NodeJS.ProcessEnv = process.env): number {
  const ms = Number(env.PICOMPUTE_DISCOVERY_MS ?? 1000);
  return Number.isFinite(ms) && ms >= 0 ? ms : 1000;
}

/**
 * The directory relative paths on a command line are meant from: INIT_CWD
 * when this process is a pnpm/npm script (`pnpm -C ~/picompute picompute
 * submit job.ts` runs inside the clone), else the working directory. Only
 * when the working directory is the script's package: a process merely
 * started by a script, in a directory of its own, inherits INIT_CWD too.
 */
export function userCwd(env: NodeJS.ProcessEnv = process.env): string {
  const cwd = process.cwd();
  const asScript = env.INIT_CWD && env.npm_package_json && resolve(dirname(env.npm_package_json)) === resolve(cwd);
  return asScript ? env.INIT_CWD! : cwd;
}

/** `path` as the user meant it: relative to userCwd(). */
export function userPath(path: string, env: NodeJS.ProcessEnv = process.env): string {
  return resolve(userCwd(env), path);
}

/** The daemons' log format from PICOMPUTE_LOG_FORMAT, or undefined to choose by the terminal. */
export function logFormatFromEnv(env: NodeJS.ProcessEnv = process.env): 'json' | 'text' | undefined {
  const v = env.PICOMPUTE_LOG_FORMAT?.trim().toLowerCase();
  if (!v) return undefined;
  if (v === 'json' || v === 'text') return v;
  throw new RangeError(`PICOMPUTE_LOG_FORMAT=${env.PICOMPUTE_LOG_FORMAT} is neither json nor text`);
}

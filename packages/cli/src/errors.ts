import { flagsIn } from './option-flags.js';

/**
 * Exit codes, as the README promises: 0 the job completed, 1 it failed (or a
 * daemon hit trouble), 2 the user made a mistake before anything ran.
 */
export const EXIT_OK = 0;
export const EXIT_JOB_FAILED = 1;
export const EXIT_USAGE = 2;

export class UsageError extends Error {
  override name = 'UsageError';
}

const USAGE_ERRORS = new Set(['UsageError', 'OptionError', 'JobFileError', 'ConnectError', 'RangeError', 'KeyError', 'AuthError', 'StateError']);
/**
 * gRPC INVALID_ARGUMENT, NOT_FOUND, RESOURCE_EXHAUSTED (a message over the limit) and FAILED_PRECONDITION
 * (a blob it names was not uploaded): the coordinator refused what the user asked.
 */
const USAGE_STATUS = new Set([3, 5, 8, 9]);

export function exitCodeFor(err: unknown): number {
  const e = err as Error & { code?: number };
  if (USAGE_ERRORS.has(e?.name) || (e?.name === 'RpcError' && USAGE_STATUS.has(e.code ?? -1))) return EXIT_USAGE;
  return EXIT_JOB_FAILED;
}

/** Runs a command's action; an error is printed as one clear message, never a stack of ours. */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<number | void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    let code: number;
    try {
      code = (await fn(...args)) ?? EXIT_OK;
    } catch (err) {
      process.stderr.write(`picompute: ${flagsIn((err as Error)?.message ?? String(err))}\n`);
      code = exitCodeFor(err);
    }
    // Writes to a pipe are asynchronous: exiting before they drain would cut
    // a big --json result at the pipe's 64 KiB (a reader that never reads
    // keeps us waiting, as it would `cat`).
    await Promise.all([drained(process.stdout), drained(process.stderr)]);
    process.exit(code);
  };
}

function drained(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => stream.write('', () => resolve()));
}

export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export function parseArgs(pairs: string[]): Record<string, string> {
  const args: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq < 1) throw new UsageError(`--arg "${pair}" is not key=value (for example --arg points=1000000)`);
    args[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return args;
}

export function parseCount(text: string, what: string, min = 1): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`${what} must be a whole number ≥ ${min}, not "${text}"`);
  return n;
}

export function parseInteger(text: string, what: string): number {
  const n = Number(text);
  if (!Number.isInteger(n)) throw new UsageError(`${what} must be a whole number, not "${text}"`);
  return n;
}

export function parsePort(text: string, what = '--port'): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new UsageError(`${what} must be a port number from 0 to 65535, not "${text}"`);
  return n;
}

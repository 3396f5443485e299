/**
 * The daemons' log lines. On a terminal: `[coordinator] 2026-…Z message`,
 * for people. Elsewhere (systemd's journal, a file, a pipe): one JSON object
 * a line (time, level, daemon, pid, msg), for log collectors. Choose with
 * --log-format or PICOMPUTE_LOG_FORMAT; --log-level drops lines below it.
 * Messages are the same words either way, so a grep finds them in both.
 */
import { logFormatFromEnv } from '@picompute/sdk/env';
import { UsageError } from './errors.js';
import { flagsIn } from './option-flags.js';

export const LOG_LEVELS = { debug: 20, info: 30, warn: 40, error: 50 } as const;
export type LogLevel = keyof typeof LOG_LEVELS;
export type LogFormat = 'json' | 'text';

export interface LogFlags {
  logFormat?: string;
  logLevel: string;
}

export function logFormat(flag: string | undefined, isTTY = Boolean(process.stderr.isTTY)): LogFormat {
  const chosen = flag ?? logFormatFromEnv();
  if (chosen === undefined) return isTTY ? 'text' : 'json';
  if (chosen !== 'json' && chosen !== 'text') throw new UsageError(`--log-format ${chosen}: choose json or text`);
  return chosen;
}

/** A daemon's `log(line)`; a second argument sets the level (default info). */
export function daemonLogger(
  who: string,
  flags: LogFlags,
  write: (s: string) => void = (s) => process.stderr.write(s),
): (line: string, level?: LogLevel) => void {
  const format = logFormat(flags.logFormat);
  const floor = LOG_LEVELS[flags.logLevel as LogLevel];
  if (floor === undefined) throw new UsageError(`--log-level ${flags.logLevel}: choose ${Object.keys(LOG_LEVELS).join(', ')}`);
  return (text, level = 'info') => {
    if (LOG_LEVELS[level] < floor) return;
    const line = flagsIn(text);
    const time = new Date().toISOString();
    write(
      format === 'text'
        ? `[${who}] ${time} ${level === 'info' ? '' : `${level.toUpperCase()} `}${line}\n`
        : `${JSON.stringify({ time, level, daemon: who, pid: process.pid, msg: line })}\n`,
    );
  };
}

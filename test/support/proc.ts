/** What Linux says about a process, read from /proc: its memory, its children, whether it lives. */
import { readFileSync, readdirSync } from 'node:fs';

function status(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
}

/** Resident memory, MiB. */
export function rssMib(pid: number): number {
  return Number(/VmRSS:\s+(\d+) kB/.exec(status(pid) ?? '')?.[1] ?? NaN) / 1024;
}

/** Running or stopped (not gone, not a zombie). */
export function alive(pid: number): boolean {
  const state = /State:\s+(\S)/.exec(status(pid) ?? '')?.[1];
  return state !== undefined && state !== 'Z' && state !== 'X';
}

/** Every process whose parent is `pid`, with its state letter (Z: a zombie nobody reaped). */
export function children(pid: number): { pid: number; state: string; cmd: string }[] {
  const found: { pid: number; state: string; cmd: string }[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const text = status(Number(name));
    if (!text || Number(/PPid:\s+(\d+)/.exec(text)?.[1]) !== pid) continue;
    found.push({ pid: Number(name), state: /State:\s+(\S)/.exec(text)?.[1] ?? '?', cmd: /Name:\s+(.*)/.exec(text)?.[1] ?? '' });
  }
  return found;
}

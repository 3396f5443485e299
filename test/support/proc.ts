/**
 * What a process really holds open, read from /proc (Linux): its sockets
 * and the processes below it, its memory, whether it lives.
 */
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';

/** A socket a process holds open, read from /proc (Linux). */
export interface ProcSocket {
  proto: 'tcp' | 'tcp6' | 'udp' | 'udp6';
  /** Local address as printed by ss: 127.0.0.1, 0.0.0.0, ::, ::1, … */
  address: string;
  port: number;
  /** TCP state: LISTEN, ESTABLISHED, …; UDP: the kernel's code (07 unconnected). */
  state: string;
}

const TCP_STATES: Record<string, string> = { '01': 'ESTABLISHED', '0A': 'LISTEN', '06': 'TIME_WAIT', '08': 'CLOSE_WAIT' };

function hexAddress(hex: string): string {
  const bytes = Buffer.from(hex, 'hex');
  // /proc prints each 32-bit word in host (little-endian) order.
  const words: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += 4) words.push(Buffer.from(bytes.subarray(i, i + 4)).reverse());
  const b = Buffer.concat(words);
  if (b.length === 4) return [...b].join('.');
  if (b.subarray(0, 12).equals(Buffer.from('00000000000000000000ffff', 'hex'))) return `::ffff:${[...b.subarray(12)].join('.')}`;
  const groups = Array.from({ length: 8 }, (_, i) => b.readUInt16BE(i * 2).toString(16));
  return groups.join(':').replace(/(^|:)0(:0)+(:|$)/, '::');
}

/** The TCP and UDP sockets process `pid` holds, matched by inode from its fds to its network namespace's tables. */
export function socketsOf(pid: number): ProcSocket[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]!);
    } catch {
      // closed meanwhile
    }
  }
  const found: ProcSocket[] = [];
  for (const proto of ['tcp', 'tcp6', 'udp', 'udp6'] as const) {
    const lines = readFileSync(`/proc/${pid}/net/${proto}`, 'utf8').trim().split('\n').slice(1);
    for (const line of lines) {
      const f = line.trim().split(/\s+/);
      if (!inodes.has(f[9]!)) continue;
      const [addr, port] = f[1]!.split(':');
      found.push({ proto, address: hexAddress(addr!), port: parseInt(port!, 16), state: proto.startsWith('tcp') ? (TCP_STATES[f[3]!] ?? f[3]!) : f[3]! });
    }
  }
  return found;
}

/** `pid` and every process below it (a daemon started through cluster.sh runs a few levels down). */
export function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // The command name may hold spaces and parentheses: the ppid is the second field after the last ')'.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // gone meanwhile
    }
  }
  const all: number[] = [];
  const walk = (p: number) => {
    all.push(p);
    for (const c of children.get(p) ?? []) walk(c);
  };
  walk(pid);
  return all;
}

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

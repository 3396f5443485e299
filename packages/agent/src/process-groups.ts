/**
 * Whether a process group a task's child led is still that child's, so that
 * killing the group cannot reach a stranger's. A task's children each lead a
 * group of their own (./task-children.ts), and the agent kills the group when
 * the task ends, or before it terminates a worker. Once the leader is reaped,
 * its number is free: on a node whose pids wrap (Raspberry Pi OS and this
 * test machine: pid_max 32768, threads count too), a new process may take it
 * and lead a group of the same number, and the agent, often root, would
 * SIGKILL that group. A full test suite here wraps the pids within minutes,
 * and a test's `sleep 600` died a second after it started.
 *
 * The kernel gives no process a number still in use as a group id, so: the
 * group is ours while its leader is our unreaped child, or, once it is
 * reaped, while the number names no process and some process is still in
 * the group (the leader's background jobs). Missed: a stranger that took the
 * number after our group died, then exited leaving a group behind.
 */
import { readFileSync, readdirSync } from 'node:fs';

/** State letter and parent and group of a process, or undefined if there is none with that pid. */
function stat(pid: number): { state: string; ppid: number; pgrp: number } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised name (which may hold spaces): state, ppid, pgrp, …
    const [state, ppid, pgrp] = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { state: state!, ppid: Number(ppid), pgrp: Number(pgrp) };
  } catch {
    return undefined;
  }
}

/** `R`, `S`, `Z`… for a child of this process, or undefined once it is reaped (or not ours: its pid was reused). */
export function stateOfOurChild(pid: number): string | undefined {
  const s = stat(pid);
  return s?.ppid === process.pid ? s.state : undefined;
}

/** Whether the group led by our child `pgid` may be killed without reaching anyone else's processes. */
export function groupStillOurs(pgid: number): boolean {
  if (pgid <= 1) return false;
  const leader = stat(pgid);
  if (leader) return leader.ppid === process.pid;
  for (const name of readdirSync('/proc')) if (name.charCodeAt(0) <= 57 && stat(Number(name))?.pgrp === pgid) return true;
  return false;
}

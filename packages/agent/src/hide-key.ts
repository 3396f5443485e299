/**
 * Takes PICOMPUTE_KEY out of the agent's environment once the key is read,
 * so job code (which runs in this process) cannot read it.
 *
 * Deleting it from process.env is not enough: /proc/self/environ shows the
 * environment block the kernel put on the stack at exec, whatever unsetenv
 * does later. Two ways out were weighed:
 *   - re-exec the agent without the variable: Node 20 has no execve, so it
 *     means a second Node process supervising the first for the agent's whole
 *     life (~40 MiB RSS, ~6 MiB of it private) on a 1 GB Pi, plus signal
 *     forwarding;
 *   - overwrite the variable in that very block, through /proc/self/mem
 *     (a process may always write its own memory): free, and in place.
 * This does the second. Where the kernel refuses (some hardened kernels
 * forbid writing /proc/self/mem), it says so loudly: then only a key file or
 * a systemd credential keeps the key from job code.
 */
import { closeSync, openSync, readFileSync, readSync, writeSync } from 'node:fs';

const NAME = 'PICOMPUTE_KEY';

/** [env_start, env_end) of this process: fields 50 and 51 of /proc/self/stat (user addresses fit in 48 bits, so in a number). */
function environBlock(): [number, number] {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  // The fields after the parenthesised command name start at field 3.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return [Number(fields[50 - 3]), Number(fields[51 - 3])];
}

/** Blanks every `PICOMPUTE_KEY=…` entry of the environment block with NULs; returns how many. */
function wipeFromEnvironBlock(): number {
  const [start, end] = environBlock();
  const fd = openSync('/proc/self/mem', 'r+');
  try {
    const block = Buffer.alloc(end - start);
    readSync(fd, block, 0, block.length, start);
    let wiped = 0;
    for (let at = 0; at < block.length; ) {
      const stop = block.indexOf(0, at) === -1 ? block.length : block.indexOf(0, at);
      if (block.subarray(at, stop).toString('latin1').startsWith(`${NAME}=`)) {
        writeSync(fd, Buffer.alloc(stop - at), 0, stop - at, start + at);
        wiped++;
      }
      at = stop + 1;
    }
    return wiped;
  } finally {
    closeSync(fd);
  }
}

/** Call once the cluster key has been loaded. */
export function hideKeyFromJobs(log: (line: string) => void): void {
  const had = process.env[NAME] !== undefined;
  delete process.env[NAME];
  try {
    wipeFromEnvironBlock();
  } catch (err) {
    if (had) {
      log(
        `WARNING: ${NAME} could not be wiped from this process's environment (${(err as Error).message}): job code can read the cluster key through ` +
          '/proc/self/environ. ' +
          'Give the agent the key as a file instead (`keyFile`, PICOMPUTE_KEY_FILE, or a systemd credential) and unset PICOMPUTE_KEY.',
      );
    }
  }
}

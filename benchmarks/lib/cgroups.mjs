/**
 * CPU cgroups for the workloads that need a slow node or a shielded one
 * (root): v1 or v2, whichever the machine has.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const V1 = '/sys/fs/cgroup/cpu';
const V2 = '/sys/fs/cgroup';

/** A command prefix that moves the shell into the group (the argument after it) and runs the rest there. */
export const ENTER = ['sh', '-c', 'echo $$ > "$0/cgroup.procs" && exec "$@"'];

/** Why CPU groups cannot be made here, or undefined. */
export function cgroupProblem() {
  if (process.getuid?.() !== 0) return 'needs root';
  if (existsSync(join(V1, 'cpu.cfs_quota_us'))) return undefined;
  if (existsSync(join(V2, 'cgroup.controllers')) && readFileSync(join(V2, 'cgroup.controllers'), 'utf8').includes('cpu')) return undefined;
  return 'no cgroup cpu controller';
}

/**
 * A CPU group with the most v2 weight and `v1Shares` under v1 (workloads
 * differ there), and a quota in cores if given. The caller removes it.
 */
export function cpuGroup(name, { quota, v1Shares }) {
  const v1 = existsSync(join(V1, 'cpu.cfs_quota_us'));
  const dir = join(v1 ? V1 : V2, `${name}-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  if (v1) {
    writeFileSync(join(dir, 'cpu.shares'), String(v1Shares));
    if (quota) writeFileSync(join(dir, 'cpu.cfs_quota_us'), String(quota * 100_000));
  } else {
    if (!readFileSync(join(V2, 'cgroup.subtree_control'), 'utf8').includes('cpu')) writeFileSync(join(V2, 'cgroup.subtree_control'), '+cpu');
    writeFileSync(join(dir, 'cpu.weight'), '10000');
    if (quota) writeFileSync(join(dir, 'cpu.max'), `${quota * 100_000} 100000`);
  }
  return dir;
}

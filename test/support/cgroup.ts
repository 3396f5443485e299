/**
 * CPU cgroups for tests that need a slow node on a fast machine: a group
 * with a CPU quota (25 % of a core, say) and a high CPU weight, so what a
 * process in it gets is set by the quota, not by whatever else the machine
 * runs (the test machine is shared; without the weight a busy neighbour
 * makes the "fast" node slow too, and the comparison measures the load).
 * cgroup v1's cpu controller where it is mounted (cpu.cfs_quota_us,
 * cpu.shares), else v2 (cpu.max, cpu.weight). Needs root.
 */
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const V1 = '/sys/fs/cgroup/cpu';
const V2 = '/sys/fs/cgroup';
const PERIOD_US = 100_000;

export interface CpuGroup {
  dir: string;
  /** For startDaemon's `prefix`: moves the shell into the group, then execs the daemon (so the daemon starts inside it). */
  prefix: string[];
  /** Sets the group's quota, in cores (none: no cap). */
  setQuota(cores: number | undefined): void;
  /** Removes the group once its processes are gone. */
  remove(): void;
}

/** Why CPU cgroups cannot be made here, or undefined if they can. */
export function cgroupProblem(): string | undefined {
  if (process.getuid?.() !== 0) return 'making CPU cgroups needs root';
  if (existsSync(join(V1, 'cpu.cfs_quota_us'))) return undefined;
  if (existsSync(join(V2, 'cgroup.controllers')) && readFileSync(join(V2, 'cgroup.controllers'), 'utf8').includes('cpu')) return undefined;
  return `no cgroup cpu controller: neither ${V1}/cpu.cfs_quota_us (v1) nor "cpu" in ${V2}/cgroup.controllers (v2)`;
}

/** A new CPU group named `name`; `quota` in cores (0.25 = a quarter of one), none for no cap. */
export function cpuGroup(name: string, quota?: number): CpuGroup {
  const v1 = existsSync(join(V1, 'cpu.cfs_quota_us'));
  const dir = join(v1 ? V1 : V2, `${name}-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  const setQuota = (cores: number | undefined) => {
    if (v1) {
      writeFileSync(join(dir, 'cpu.cfs_period_us'), String(PERIOD_US));
      writeFileSync(join(dir, 'cpu.cfs_quota_us'), cores === undefined ? '-1' : String(Math.round(cores * PERIOD_US)));
    } else writeFileSync(join(dir, 'cpu.max'), `${cores === undefined ? 'max' : Math.round(cores * PERIOD_US)} ${PERIOD_US}`);
  };
  if (v1) writeFileSync(join(dir, 'cpu.shares'), '10240');
  else {
    // v2 hands the cpu controller to children only when the parent lists it.
    const control = join(V2, 'cgroup.subtree_control');
    if (!readFileSync(control, 'utf8').includes('cpu')) writeFileSync(control, '+cpu');
    writeFileSync(join(dir, 'cpu.weight'), '10000');
  }
  if (quota !== undefined) setQuota(quota);
  return {
    dir,
    setQuota,
    prefix: ['sh', '-c', 'echo $$ > "$0/cgroup.procs" && exec "$@"', dir],
    remove() {
      try {
        rmdirSync(dir);
      } catch {
        // Still has a process (one being killed): the group is empty and gone at the next run's cleanup, or on reboot.
      }
    },
  };
}

/**
 * Slurm as a peer: Debian's slurmctld + slurmd + munge, one node with this
 * machine's cores, on loopback, with a private munge key and socket, started
 * and stopped by this benchmark. Settings (from running it here):
 * CommunicationParameters=NoInAddrAny,NoCtldInAddrAny (loopback only),
 * proctrack/linuxproc and task/none (no cgroups), select/cons_tres with
 * CR_CPU, SchedulerParameters=batch_sched_delay=0 (defaults start fewer than
 * one batch task a second), no accounting. W1 is a job array of `true`
 * tasks; W4 is `srun true` (Slurm's fast path) and `sbatch --wait`.
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { median, rssMiB, stop } from '../lib/harness.mjs';

const has = (cmd) => {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};

export function ensureSlurm() {
  const ok = () => ['slurmctld', 'slurmd', 'munged', 'srun', 'sbatch'].every(has);
  if (ok()) return undefined;
  if (process.getuid?.() === 0) {
    try {
      execFileSync('sh', ['-c', 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge'], { stdio: 'ignore', timeout: 600_000 });
    } catch {}
  }
  if (!ok()) return 'Slurm could not be started: slurmctld, slurmd, slurm-client and munge are not installed';
  if (process.getuid?.() !== 0) return 'Slurm could not be started: slurmd must run as root';
  return undefined;
}

const freePort = () =>
  new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function runSlurm({ cores, quick }) {
  const dir = mkdtempSync(join(tmpdir(), 'picompute-slurm-'));
  for (const d of ['state', 'spool']) mkdirSync(join(dir, d));
  const key = Buffer.alloc(1024);
  randomFillSync(key);
  writeFileSync(join(dir, 'munge.key'), key, { mode: 0o400 });
  const [ctldPort, dPort] = [await freePort(), await freePort()];
  const settings = 'CommunicationParameters=NoInAddrAny,NoCtldInAddrAny, ProctrackType=proctrack/linuxproc, TaskPlugin=task/none, SelectType=select/cons_tres (CR_CPU), SchedulerType=sched/backfill, SchedulerParameters=batch_sched_delay=0, no accounting';
  const conf = join(dir, 'slurm.conf');
  writeFileSync(
    conf,
    [
      'ClusterName=pcbench',
      'SlurmctldHost=localhost(127.0.0.1)',
      `SlurmctldPort=${ctldPort}`,
      `SlurmdPort=${dPort}`,
      'SlurmUser=root',
      'SlurmdUser=root',
      'AuthType=auth/munge',
      `AuthInfo=socket=${dir}/munge.socket`,
      'CredType=cred/munge',
      'CommunicationParameters=NoInAddrAny,NoCtldInAddrAny',
      'ProctrackType=proctrack/linuxproc',
      'TaskPlugin=task/none',
      'SelectType=select/cons_tres',
      'SelectTypeParameters=CR_CPU',
      'SchedulerType=sched/backfill',
      'SchedulerParameters=batch_sched_delay=0',
      `StateSaveLocation=${dir}/state`,
      `SlurmdSpoolDir=${dir}/spool`,
      `SlurmctldPidFile=${dir}/slurmctld.pid`,
      `SlurmdPidFile=${dir}/slurmd.pid`,
      `SlurmctldLogFile=${dir}/slurmctld.log`,
      `SlurmdLogFile=${dir}/slurmd.log`,
      'ReturnToService=2',
      'MpiDefault=none',
      'JobAcctGatherType=jobacct_gather/none',
      'AccountingStorageType=accounting_storage/none',
      'MaxArraySize=10001',
      'MaxJobCount=20000',
      `NodeName=localhost NodeAddr=127.0.0.1 CPUs=${cores} State=UNKNOWN`,
      'PartitionName=bench Nodes=localhost Default=YES MaxTime=INFINITE State=UP',
      '',
    ].join('\n'),
  );
  const env = { ...process.env, SLURM_CONF: conf };
  const procs = [];
  const run = (cmd, args) => execFileSync(cmd, args, { env, cwd: dir, timeout: 600_000 }).toString();
  try {
    procs.push(spawn('munged', ['-F', '-f', `--socket=${dir}/munge.socket`, `--key-file=${dir}/munge.key`, `--pid-file=${dir}/munged.pid`, `--log-file=${dir}/munged.log`, `--seed-file=${dir}/munged.seed`], { stdio: 'ignore' }));
    await sleep(500);
    procs.push(spawn('slurmctld', ['-D', '-f', conf], { env, stdio: 'ignore' }));
    procs.push(spawn('slurmd', ['-D', '-f', conf, '-N', 'localhost'], { env, stdio: 'ignore' }));
    for (let i = 0; i < 100 && !/idle/.test(safe(() => run('sinfo', ['-h', '-o', '%t']))); i++) await sleep(200);

    const tasks = quick ? 10 : 100;
    let t = performance.now();
    run('sbatch', [`--array=0-${tasks - 1}`, '--output=/dev/null', '--wrap', 'true']);
    while (run('squeue', ['-h']).trim()) await sleep(100);
    const arrayMs = performance.now() - t;

    const srun = [];
    for (let i = 0; i < (quick ? 3 : 10); i++) {
      t = performance.now();
      run('srun', ['-N1', 'true']);
      srun.push(performance.now() - t);
    }
    t = performance.now();
    run('sbatch', ['--wait', '--output=/dev/null', '--wrap', 'true']);
    const sbatchMs = performance.now() - t;
    const pid = (f) => Number(readFileSync(join(dir, f), 'utf8'));
    return {
      settings,
      W1: { tasks, ms: arrayMs, tasks_per_s: (tasks / arrayMs) * 1000 },
      W4: { srunMs: median(srun), sbatchMs },
      W5: { slurmctldMiB: rssMiB(pid('slurmctld.pid')), slurmdMiB: rssMiB(pid('slurmd.pid')) },
    };
  } finally {
    for (const p of procs.reverse()) await stop(p, 'SIGTERM');
  }
}

function safe(fn) {
  try {
    return fn();
  } catch {
    return '';
  }
}

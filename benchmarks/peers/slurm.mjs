/**
 * Slurm as a peer: Debian's slurmctld + slurmd + munge, one node with this
 * machine's cores, on loopback, with a private munge key and socket, started
 * and stopped by this benchmark. Settings (from running it here):
 * CommunicationParameters=NoInAddrAny,NoCtldInAddrAny (loopback only),
 * proctrack/linuxproc and task/none (no cgroups), select/cons_tres with
 * CR_CPU, SchedulerParameters=batch_sched_delay=0 (defaults start fewer than
 * one batch task a second), no accounting. W1 is a job array of `true`
 * tasks; W2, W3 and W6 are job arrays of `node slurm-task.mjs`, each task
 * running the very job code picompute runs on its share and writing its
 * answer to a file, merged here (the wall time counts the merge); W6 kills
 * slurmd 2 s in and starts it again at once, as systemd would. W4 is
 * `srun true` (Slurm's fast path) and `sbatch --wait`.
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { mkdtempSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { bundleExports, here, median, rssMiB, stop } from '../lib/harness.mjs';
import { EXAMPLE } from '../workloads/w2-monte-carlo.mjs';

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
      execFileSync(
        'sh',
        ['-c', 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge'],
        { stdio: 'ignore', timeout: 600_000 },
      );
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

export async function runSlurm({ cores, quick, corpus }) {
  const dir = mkdtempSync(join(tmpdir(), 'picompute-slurm-'));
  for (const d of ['state', 'spool']) mkdirSync(join(dir, d));
  const key = Buffer.alloc(1024);
  randomFillSync(key);
  writeFileSync(join(dir, 'munge.key'), key, { mode: 0o400 });
  const [ctldPort, dPort] = [await freePort(), await freePort()];
  const settings =
    'CommunicationParameters=NoInAddrAny,NoCtldInAddrAny, ProctrackType=proctrack/linuxproc, TaskPlugin=task/none, SelectType=select/cons_tres (CR_CPU), SchedulerType=sched/backfill, SchedulerParameters=batch_sched_delay=0, no accounting';
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
    procs.push(
      spawn(
        'munged',
        [
          '-F',
          '-f',
          `--socket=${dir}/munge.socket`,
          `--key-file=${dir}/munge.key`,
          `--pid-file=${dir}/munged.pid`,
          `--log-file=${dir}/munged.log`,
          `--seed-file=${dir}/munged.seed`,
        ],
        { stdio: 'ignore' },
      ),
    );
    await sleep(500);
    procs.push(spawn('slurmctld', ['-D', '-f', conf], { env, stdio: 'ignore' }));
    const slurmd = () => spawn('slurmd', ['-D', '-f', conf, '-N', 'localhost'], { env, stdio: 'ignore' });
    procs.push(slurmd()); // last: W6 kills it
    for (let i = 0; i < 100 && !/idle/.test(safe(() => run('sinfo', ['-h', '-o', '%t']))); i++) await sleep(200);

    /** Runs a job array of `n` tasks of `command` and waits for all; `during` runs while it does. */
    const array = async (n, command, during) => {
      const t = performance.now();
      run('sbatch', [`--array=0-${n - 1}`, '--output=/dev/null', '--wrap', command]);
      const side = during?.();
      while (run('squeue', ['-h']).trim()) await sleep(100);
      await side;
      return performance.now() - t;
    };
    const outDir = join(dir, 'out');
    /** The answers the array tasks wrote, read back (one file each). */
    const answers = (n) => {
      const files = readdirSync(outDir);
      if (files.length !== n) throw new Error(`Slurm: ${files.length} of ${n} array tasks wrote an answer`);
      const values = files.map((f) => JSON.parse(readFileSync(join(outDir, f), 'utf8')));
      rmSync(outDir, { recursive: true });
      mkdirSync(outDir);
      return values;
    };
    mkdirSync(outDir);
    const node = (args) => [process.execPath, here('peers/slurm-task.mjs'), ...args].join(' ');

    const tasks = quick ? 10 : 100;
    const arrayMs = await array(tasks, 'true');

    // W2: 64 tasks × 2,000,000 points, one `node` per task.
    const pi = await bundleExports(EXAMPLE);
    const w2 = { tasks: quick ? 8 : 64, points: quick ? 200_000 : 2_000_000 };
    let t = performance.now();
    let hits = 0;
    for (let i = 0; i < w2.tasks; i++) hits += pi.exports.countHits({ seed: i + 1, points: w2.points });
    const singleMs = performance.now() - t;
    t = performance.now();
    await array(w2.tasks, node([pi.url, 'hits', outDir, w2.points]));
    const slurmHits = answers(w2.tasks).reduce((a, b) => a + b, 0);
    const w2Ms = performance.now() - t;
    if (slurmHits !== hits) throw new Error(`Slurm W2 gave ${slurmHits} hits, one thread ${hits}`);

    // W3: one task per 1 MiB of the corpus, counts merged here.
    const wc = await bundleExports(here('jobs/word-count.ts'));
    const chunk = 1 << 20;
    const parts = Math.ceil(statSync(corpus).size / chunk);
    const expected = wc.exports.countWords(readFileSync(corpus, 'latin1'));
    t = performance.now();
    await array(parts, node([wc.url, 'words', outDir, corpus, chunk]));
    const counts = new Map();
    for (const part of answers(parts)) for (const [w, n] of Object.entries(part)) counts.set(w, (counts.get(w) ?? 0) + n);
    const w3Ms = performance.now() - t;
    if (counts.size !== expected.size || [...expected].some(([w, n]) => counts.get(w) !== n))
      throw new Error('Slurm W3 counts differ from the sequential count');

    // W6: the W2 shape with 40,000,000 points a task, unharmed, then with slurmd SIGKILLed 2 s in and restarted at once.
    const w6 = { tasks: quick ? 4 : 64, points: quick ? 10_000_000 : 40_000_000, killAt: quick ? 700 : 2000 };
    const w6Command = node([pi.url, 'hits', outDir, w6.points]);
    const cleanMs = await array(w6.tasks, w6Command);
    const clean = answers(w6.tasks).reduce((a, b) => a + b, 0);
    const killedMs = await array(w6.tasks, w6Command, async () => {
      await sleep(w6.killAt);
      const victim = procs.pop();
      await stop(victim, 'SIGKILL');
      procs.push(slurmd());
    });
    const hurt = answers(w6.tasks).reduce((a, b) => a + b, 0);
    if (hurt !== clean) throw new Error(`Slurm W6 gave ${hurt} hits after the kill, ${clean} unharmed`);

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
      W2: { ...w2, ms: w2Ms, efficiency: singleMs / (w2Ms * cores) },
      W3: { ms: w3Ms, mb_s: statSync(corpus).size / 1048576 / (w3Ms / 1000) },
      W6: { ...w6, cleanMs, killedMs },
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

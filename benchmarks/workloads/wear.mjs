/**
 * SD-card wear: bytes a durable coordinator writes to disk per tiny task
 * (W1's 10,000 echo tasks through real daemons on loopback), from
 * /proc/PID/io `write_bytes` (what the process sent to the block layer:
 * SQLite's WAL, its checkpoints into the database file, fsyncs' data),
 * counted from before the jobs' submits until the background reclaim after
 * them is done. Target ≤ 1 KiB per task.
 */
import { readFileSync } from 'node:fs';
import { connect } from '@picompute/sdk/client';
import { parseKey } from '@picompute/sdk/auth';
import { daemon, here, keyEnv, stop } from '../lib/harness.mjs';

const writeBytes = (pid) => Number(/write_bytes:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))[1]);
/** Lets the coordinator's background reclaim (deleting the inputs, vacuum, checkpoint) finish. */
const settle = (quick) => new Promise((r) => setTimeout(r, quick ? 1000 : 3000));

export async function run({ quick, cores, repeat, report }) {
  const tasks = quick ? 2000 : 10_000;
  const { env, keyFile } = keyEnv();
  const agent = await daemon(['agent', '--host', '127.0.0.1', '--port', '0', '--cores', String(cores)], env);
  const coordinator = await daemon(['coordinator', '--host', '127.0.0.1', '--port', '0', '--agent', agent.address], env);
  try {
    const client = await connect({ coordinator: coordinator.address, security: { key: parseKey(readFileSync(keyFile, 'utf8'), keyFile) } });
    try {
      const w1 = async (n) => {
        const out = await (await client.submit(here('jobs/echo.ts'), { args: { tasks: String(n) } })).result();
        if (out.length !== n) throw new Error('W1 over daemons gave a wrong answer');
      };
      await w1(100);
      await settle(quick);
      const before = writeBytes(coordinator.pid);
      for (let i = 0; i < repeat; i++) await w1(tasks);
      await settle(quick);
      const perTask = (writeBytes(coordinator.pid) - before) / (repeat * tasks);
      report.add('SD-card wear', 'durable coordinator, W1 tiny tasks', perTask, 'bytes written/task', { jobs: repeat, tasks });
      report.note(
        `wear: a durable coordinator wrote ${perTask.toFixed(0)} bytes to disk per tiny task (/proc/PID/io write_bytes over ${repeat} W1 jobs and their reclaim; target ≤ 1024)`,
      );
    } finally {
      client.close();
    }
  } finally {
    await Promise.all([stop(agent), stop(coordinator)]);
  }
}

/**
 * The coordinator's CPU per task while it dispatches one big job over many simulated agents (the dispatch part of
 * `--scale`, alone):
 *
 *   node benchmarks/profile-scale.mjs [agents=1000] [tasks=100000] [--cli path/to/picompute.mjs] [--cpu-prof DIR]
 *
 * `--cli` runs another build's coordinator (to compare in turns on a busy machine); `--cpu-prof` writes its profile.
 */
import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parseKey } from '@picompute/sdk/auth';
import { connect } from '@picompute/sdk/client';
import { CLI, daemon, echoRound, here, keyEnv, stop } from './lib/harness.mjs';

const flag = (name) => {
  const at = process.argv.indexOf(name);
  return at > 0 ? process.argv[at + 1] : undefined;
};
const numbers = process.argv.slice(2).filter((a, i, all) => /^\d+$/.test(a) && !all[i - 1]?.startsWith('--'));
const agents = Number(numbers[0] ?? 1000);
const tasks = Number(numbers[1] ?? 100_000);
const cli = flag('--cli') ?? CLI;
const profDir = flag('--cpu-prof');
const PROCESSES = 4;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const { env, keyFile } = keyEnv();
const security = { key: parseKey(readFileSync(keyFile, 'utf8'), keyFile) };
const nodeArgs = profDir ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : [];
const coordinator = await daemon(['coordinator', '--host', '127.0.0.1', '--port', '0'], env, nodeArgs, [], cli);
const fakes = Array.from({ length: PROCESSES }, (_, i) => {
  const child = fork(here('lib/fake-agents.mjs'), [JSON.stringify({ coordinator: coordinator.address, keyFile })], {
    env,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const added = new Promise((resolve) => {
    child.once('message', () => {
      child.once('message', resolve);
      child.send({ add: Math.floor(agents / PROCESSES) + (i < agents % PROCESSES ? 1 : 0) });
    });
  });
  return { child, added };
});
const client = await connect({ coordinator: coordinator.address, security });
try {
  await Promise.all(fakes.map((f) => f.added));
  for (let t = 0; (await client.nodes()).filter((x) => x.state === 'idle').length < agents; t++) {
    if (t > 1200) throw new Error(`only ${(await client.nodes()).length} of ${agents} simulated agents came up`);
    await sleep(100);
  }
  await echoRound(client, coordinator.pid, 1000);
  for (let run = 0; run < 2; run++) {
    const { wallMs, coordinatorUsPerTask } = await echoRound(client, coordinator.pid, tasks);
    console.log(
      JSON.stringify({
        cli: cli === CLI ? 'this build' : cli,
        agents,
        tasksPerS: Math.round((tasks / wallMs) * 1000),
        coordinatorCpuUsPerTask: +coordinatorUsPerTask.toFixed(1),
      }),
    );
  }
} catch (err) {
  console.error(`coordinator log (end):\n${coordinator.log().slice(-3000)}`);
  throw err;
} finally {
  client.close();
  for (const f of fakes) f.child.kill('SIGKILL');
  await stop(coordinator, 'SIGINT');
}

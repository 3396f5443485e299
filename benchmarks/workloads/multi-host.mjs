/**
 * The multi-host variant (with --multi-host; root and Linux network
 * namespaces): W1, W2, W3 and W6 across three one-core agent hosts, a
 * coordinator host and a client host made by test/netns/cluster.sh, linked at
 * 1 Gbit like Pi ports. Figures are the coordinator's job wall times, and for
 * W3 also the client's (its 50 MB go up over the client's link first).
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { WARM_UP } from './w1-tiny-tasks.mjs';
import { corpusFile } from '../lib/corpus.mjs';
import { bundleExports, here, keyEnv, stop } from '../lib/harness.mjs';

const CLUSTER_SH = here('../test/netns/cluster.sh');
const CLI = here('../packages/cli/dist/bin/picompute.mjs');

function onHost(run, i, args, env) {
  return spawn('bash', [CLUSTER_SH, 'exec', run, String(i), process.execPath, CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
}

function started(proc) {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`did not start: ${out}`)), 15_000);
    proc.stderr.on('data', (d) => {
      out += d;
      if (/listening on/.test(out)) {
        clearTimeout(timer);
        resolve(proc);
      }
    });
  });
}

function submit(run, env, args) {
  return new Promise((resolve, reject) => {
    const p = onHost(run, 5, ['submit', '--json', '--coordinator', '10.213.7.14:7700', ...args], env);
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    // 'close', not 'exit': a big result may still be on its way through the pipe when the process exits.
    p.on('close', (code) => {
      try {
        if (code !== 0) throw new Error(`submit failed (${code}): ${err}`);
        resolve(JSON.parse(out));
      } catch (e) {
        reject(e);
      }
    });
  });
}

export async function run({ quick, report }) {
  try {
    execFileSync('bash', [CLUSTER_SH, 'check'], { stdio: 'pipe' });
  } catch (err) {
    report.note(`multi-host variant skipped: ${String(err.stderr ?? err).trim()}`);
    return;
  }
  const RUN = randomBytes(2).toString('hex');
  const { env } = keyEnv();
  const hostEnv = { ...env, PICOMPUTE_NETNS_OWNER: String(process.pid) };
  execFileSync('bash', [CLUSTER_SH, 'up', RUN, '5', '--rate', '1gbit'], { env: hostEnv });
  const agents = [];
  let coordinator;
  try {
    for (const i of [1, 2, 3]) agents.push(await started(onHost(RUN, i, ['agent', '--cores', '1'], env)));
    coordinator = await started(onHost(RUN, 4, ['coordinator', ...[1, 2, 3].flatMap((i) => ['--agent', `10.213.7.${10 + i}:7701`])], env));
    await new Promise((r) => setTimeout(r, 1000));
    const example = here('../examples/monte-carlo-pi.ts');
    const w1Tasks = quick ? 2000 : 10_000;
    // Warm, as W1 on one machine (./w1-tiny-tasks.mjs): the rounds before the measured one let V8 optimize.
    for (let i = 1; i < WARM_UP; i++) await submit(RUN, env, [here('jobs/echo.ts'), '--arg', `tasks=${w1Tasks}`]);
    const w1 = await submit(RUN, env, [here('jobs/echo.ts'), '--arg', `tasks=${w1Tasks}`]);
    report.add('W1 tiny tasks', 'picompute, 3 hosts (job wall)', (w1Tasks / w1.stats.jobWallMs) * 1000, 'tasks/s', { ms: w1.stats.jobWallMs });
    const piArgs = ['--arg', `tasks=${quick ? 8 : 64}`, '--arg', `points=${quick ? 200_000 : 2_000_000}`];
    const w2 = await submit(RUN, env, [example, ...piArgs]);
    report.add('W2 Monte Carlo π', 'picompute, 3 hosts (job wall)', w2.stats.jobWallMs, 'ms', { answer: w2.result });
    const corpus = corpusFile(quick ? 2 : 50);
    const mb = statSync(corpus).size / 1048576;
    const { exports: wc } = await bundleExports(here('jobs/word-count.ts'));
    // The job's inputs(args) reads the whole file this way before its first input: timed here, on the same machine, to set beside prepareMs.
    const readAt = performance.now();
    const text = readFileSync(corpus, 'latin1');
    const readMs = performance.now() - readAt;
    const expected = wc.countWords(text);
    const w3 = await submit(RUN, env, [here('jobs/word-count.ts'), '--arg', `file=${corpus}`]);
    if (Object.keys(w3.result).length !== expected.size || [...expected].some(([w, n]) => w3.result[w] !== n))
      throw new Error('multi-host W3 counts differ from the sequential count');
    report.add('W3 word count', 'picompute, 3 hosts (client wall, with the upload)', mb / (w3.stats.wallMs / 1000), 'MB/s', {
      ms: w3.stats.wallMs,
      // The client's time before the job's wall: bundling and inputs(args), then the inputs' upload and the submit.
      prepareMs: w3.stats.prepareMs,
      submitMs: w3.stats.submitMs,
      // Of prepareMs: what inputs(args)'s own readFileSync(file, 'latin1') takes on this machine (measured above, not on the client host).
      readMs: Math.round(readMs),
    });
    report.add('W3 word count', 'picompute, 3 hosts (job wall)', mb / (w3.stats.jobWallMs / 1000), 'MB/s', { ms: w3.stats.jobWallMs });
    const { wallMs, jobWallMs } = w3.stats;
    report.note(
      `multi-host W3: client wall ${(wallMs / jobWallMs).toFixed(2)}× the job wall (target ≤ 1.15): ${wallMs - jobWallMs} ms more, of which ${w3.stats.prepareMs} before the submit ` +
        `(bundling and inputs(args): its readFileSync of the ${mb.toFixed(0)} MB alone takes ${Math.round(readMs)} ms here, before its first input), ${w3.stats.submitMs} the submit`,
    );
    const w6Args = ['--arg', `tasks=${quick ? 6 : 48}`, '--arg', `points=${quick ? 10_000_000 : 40_000_000}`];
    const clean = await submit(RUN, env, [example, ...w6Args]);
    const hurt = submit(RUN, env, [example, ...w6Args]);
    await new Promise((r) => setTimeout(r, quick ? 700 : 2000));
    await stop(agents[0], 'SIGKILL');
    agents[0] = await started(onHost(RUN, 1, ['agent', '--cores', '1'], env));
    const killed = await hurt;
    if (killed.result !== clean.result) throw new Error(`multi-host W6 gave ${killed.result}, unharmed ${clean.result}`);
    report.add('W6 agent killed', 'picompute, 3 hosts, unharmed (job wall)', clean.stats.jobWallMs, 'ms', { answer: clean.result });
    report.add('W6 agent killed', 'picompute, 3 hosts, one killed and restarted (job wall)', killed.stats.jobWallMs, 'ms', {
      answer: killed.result,
      reruns: killed.stats.retries,
    });
  } finally {
    await Promise.all([coordinator, ...agents].map((p) => stop(p, 'SIGKILL')));
    execFileSync('bash', [CLUSTER_SH, 'down', RUN]);
  }
}

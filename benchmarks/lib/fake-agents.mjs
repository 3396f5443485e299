/**
 * Many simulated agents in one process, for the scale benchmark: each is a
 * real AgentService gRPC server on its own loopback port (key-derived mutual
 * TLS and the per-call proof, as a real agent), registers itself with the
 * coordinator, which dials it back and holds a Work stream to it. On that
 * stream it says hello, sends a heartbeat a second and answers every task
 * at once with its input as output (no job code runs), packed as a real
 * agent packs them; tasks of jobs sent to
 * an agent labelled `hold` are never answered, so jobs can be kept queued.
 *
 * Driven by its parent over IPC: { add: n, labels } starts n more agents and
 * answers { added: n }.
 */
import { createRequire } from 'node:module';
import { arch, hostname } from 'node:os';
import { bindServer, channelCredentials, clientChannelOptions, parseKey, serverInterceptors } from '@picompute/sdk/auth';
import { PICOMPUTE_VERSION } from '@picompute/sdk/version';
import { packResults, serverOptions, unpackTasks, wireServices } from '@picompute/sdk/wire';
import { readFileSync } from 'node:fs';

// The SDK's own grpc-js (the benchmarks package does not depend on it).
const grpc = createRequire(import.meta.resolve('@picompute/sdk/wire'))('@grpc/grpc-js');

const { coordinator, keyFile } = JSON.parse(process.argv[2]);
const security = { key: parseKey(readFileSync(keyFile, 'utf8'), keyFile) };
const { AgentService, CoordinatorService } = wireServices();
const registrar = new CoordinatorService(coordinator, channelCredentials(security), clientChannelOptions(security));
/** Open Work streams: one heartbeat timer for all of them. */
const streams = new Set();
let count = 0;

setInterval(() => {
  const beat = {
    msg: 'heartbeat',
    heartbeat: { load1: 0, freeMemoryMb: 4096, temperatureC: Number.NaN, busyThreads: 0, sentAtMs: Date.now(), pingEchoMs: 0, throttled: -1 },
  };
  for (const call of streams) call.write(beat);
}, 1000);

async function startAgent(labels) {
  const info = {
    id: `fake-${process.pid}-${count++}`,
    hostname: hostname(),
    cores: 4,
    memoryMb: 4096,
    arch: arch(),
    nodeVersion: process.version,
    version: PICOMPUTE_VERSION,
    labels,
    // As a real agent: tasks come packed, and results go back packed (see @picompute/sdk/wire's packed-work).
    packedWork: true,
  };
  const hold = labels.includes('hold');
  const server = new grpc.Server({ ...serverOptions(), interceptors: serverInterceptors(security) });
  server.addService(AgentService.service, {
    work(call) {
      streams.add(call);
      const gone = () => streams.delete(call);
      call.on('end', gone);
      call.on('error', gone);
      call.on('close', gone);
      call.write({ msg: 'hello', hello: info });
      call.on('data', (msg) => {
        if (msg.msg === 'ping') {
          call.write({
            msg: 'heartbeat',
            heartbeat: {
              load1: 0,
              freeMemoryMb: 4096,
              temperatureC: Number.NaN,
              busyThreads: 0,
              sentAtMs: Date.now(),
              pingEchoMs: msg.ping.sentAtMs,
              throttled: -1,
            },
          });
        } else if (msg.msg === 'assign' && !hold) {
          const { job } = msg.assign;
          const packed = msg.assign.packedTasks.length > 0;
          const tasks = packed ? unpackTasks(msg.assign.packedTasks) : msg.assign.tasks;
          const now = Date.now();
          const results = tasks.map((t) => ({
            jobId: job.jobId,
            index: t.index,
            attempt: t.attempt,
            ok: true,
            output: t.input,
            error: null,
            logs: [],
            durationMs: 0.01,
            heapMb: 1,
            thread: 1,
            startedAtMs: now,
          }));
          call.write({ msg: 'results', results: packed ? { results: [], packed: [{ jobId: job.jobId, results: packResults(results) }] } : { results } });
        }
      });
    },
    info(_call, callback) {
      callback(null, info);
    },
  });
  const port = await bindServer(server, '127.0.0.1:0', security, 'fake agent');
  // Asked again until it holds, as a real agent does: a coordinator dialing hundreds of agents at once drops some.
  for (let attempt = 1; ; attempt++) {
    const err = await new Promise((resolve) =>
      registrar.register({ address: `127.0.0.1:${port}`, info }, { deadline: Date.now() + 30_000 }, (e) => resolve(e)),
    );
    if (!err) return;
    if (attempt === 10) throw new Error(`${info.id} could not register in 10 attempts: ${err.message}`);
    await new Promise((r) => setTimeout(r, 1000 * attempt));
  }
}

process.on('message', async ({ add, labels = [] }) => {
  // A few at a time: each is a TLS listener and, soon, a TLS connection from the coordinator.
  for (let i = 0; i < add; i += 25) await Promise.all(Array.from({ length: Math.min(25, add - i) }, () => startAgent(labels)));
  process.send({ added: add });
});
process.send({ ready: true });

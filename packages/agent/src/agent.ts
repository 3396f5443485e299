/**
 * The agent daemon: an AgentService gRPC server over a pool of worker
 * threads. The coordinator dials it (named by hand, found by mDNS, or told by
 * the agent itself through `coordinator`, see ./register.ts).
 *
 * Every call must prove the cluster key (see @picompute/sdk/auth); only an
 * agent bound to loopback may run without one. Job code runs in worker
 * threads with this process's user rights: it can read what the agent can
 * (run agents as an unprivileged user, see deploy/picompute-agent.service).
 * Workers get an environment without PICOMPUTE_KEY / PICOMPUTE_KEY_FILE.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { hostname, networkInterfaces } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import * as grpc from '@grpc/grpc-js';
import { bindServer, refusalLogger, requireKeyUnlessLoopback, serverInterceptors } from '@picompute/sdk/auth';
import type { Mdns } from '@picompute/sdk/mdns';
import { MAX_MESSAGE_BYTES, formatAddress, inProcessPair, serverOptions, wireNormalizer, wireServices } from '@picompute/sdk/wire';
import type { ClientWorkStream, ServerWorkStream } from '@picompute/sdk/wire';
import type { AgentInfo, BlobChunk, FetchRunRequest, FromAgent, ListRunsReply, ListRunsRequest, ToAgent } from '@picompute/sdk/wire';
import { BundleCache } from './bundle-cache.js';
import { ChunkCache } from './chunk-cache.js';
import { formatBytes } from '@picompute/sdk/units';
import { agentOptions } from './agent-options.js';
import type { AgentOptions } from './agent-options.js';
import { hardwareLabels } from './hardware-labels.js';
import { TaskKeeper } from './held-tasks.js';
import { agentInfo } from './node-facts.js';
import { TaskPools } from './pool.js';
import { startRegistration } from './register.js';
import { ShuffleRuns } from './shuffle/run-store.js';
import { NodeSpeed } from './speed-probe.js';
import { SensorReadings } from './sensor-readings.js';
import { ThrottleReader } from './throttle.js';
import { WorkSession } from './work-session.js';

export interface Agent {
  readonly info: AgentInfo;
  /** The address the agent listens on, `host:port`. */
  readonly address: string;
  /**
   * A Work stream to this agent for a coordinator in the same process (the
   * embedded cluster): the same session as over gRPC, without the network.
   */
  connectInProcess(): ClientWorkStream<ToAgent>;
  /** A run's or part's chunks as FetchRun sends them, for a coordinator in the same process (see ShuffleRuns.chunks). */
  readRun(jobId: string, runId: string): Readable;
  /** `http://host:port/metrics` when metrics are served. */
  readonly metricsUrl?: string;
  close(): Promise<void>;
}

/**
 * A node id that survives restarts and differs between machines even when
 * they share a host name ("raspberrypi") or a cloned SD card: the host name
 * and a short hash of the machine's network hardware addresses and the port.
 * Without any hardware address, a random suffix kept in the cache dir.
 */
async function stableNodeId(cacheDir: string, port: number): Promise<string> {
  const host = hostname();
  const macs = Object.entries(networkInterfaces())
    .filter(([name]) => !/^(lo|docker|veth|br-|virbr|cni|flannel)/.test(name))
    .flatMap(([, addrs]) => (addrs ?? []).map((a) => a.mac))
    .filter((mac) => mac && mac !== '00:00:00:00:00:00');
  if (macs.length)
    return `${host}-${createHash('sha256')
      .update(`${[...new Set(macs)].sort().join(',')}:${port}`)
      .digest('hex')
      .slice(0, 6)}`;
  const file = join(cacheDir, `node-id-${host}-${port}`);
  const kept = (await readFile(file, 'utf8').catch(() => '')).trim();
  if (kept.startsWith(`${host}-`)) return kept;
  const id = `${host}-${randomBytes(3).toString('hex')}`;
  await mkdir(cacheDir, { recursive: true, mode: 0o700 });
  await writeFile(file, `${id}\n`, { mode: 0o600 }).catch(() => {});
  return id;
}

export function defaultTaskMemoryMb(info: AgentInfo): number {
  return Math.min(4096, Math.max(256, Math.floor((info.memoryMb * 0.75) / Math.max(1, info.cores))));
}

export async function startAgent(given: AgentOptions = {}): Promise<Agent> {
  const options = agentOptions(given);
  const { host, security, log, cacheDir } = options;
  requireKeyUnlessLoopback(security, host, 'agent');
  const bundles = new BundleCache(cacheDir);
  const sessions = new Set<WorkSession>();
  const keeper = new TaskKeeper(log);
  const throttle = new ThrottleReader(options.throttlePath);
  const sensors = new SensorReadings(options.thermalPath, throttle);
  // Read once now, so the first heartbeat carries them.
  void sensors.refresh();
  // Known once the port is bound (the node id is kept per port across restarts).
  let info: AgentInfo;
  let pools: TaskPools;
  // Off the start's critical path: heartbeats carry the figure once it is known (0 until then). The quota is
  // shared by the worker threads, known once `info` is; the pools exist once it is, and no pool is no task.
  const speed =
    options.speedProbeMs > 0
      ? new NodeSpeed({
          threads: () => info?.cores ?? 1,
          idle: () => !pools || pools.busy === 0,
          probeMs: options.speedProbeMs,
          everyMs: options.speedReprobeMs,
        }).start()
      : undefined;
  let shuffle: ShuffleRuns;
  let chunks: ChunkCache;

  const maxMessageBytes = Math.min(options.maxMessageBytes, MAX_MESSAGE_BYTES);
  const refused = refusalLogger(log);
  const server = new grpc.Server({
    ...serverOptions(options.maxMessageBytes),
    'grpc.max_send_message_length': maxMessageBytes,
    interceptors: serverInterceptors(security, refused),
  });
  const serve = (call: ServerWorkStream<FromAgent>, grpc = true) => {
    const session = new WorkSession(call, {
      grpc,
      info,
      pools,
      bundles,
      heartbeatMs: options.heartbeatMs,
      maxMessageBytes,
      sensors,
      speed: () => speed?.perCore ?? 0,
      log,
      shuffle,
      spillBytes: options.spillBytes,
      chunks,
      keeper,
    });
    sessions.add(session);
    void session.closed.then(() => sessions.delete(session));
  };
  server.addService(wireServices().AgentService.service, {
    work(call: grpc.ServerDuplexStream<ToAgent, FromAgent>) {
      if (!pools) return call.emit('error', { code: grpc.status.UNAVAILABLE, details: 'agent is still starting' });
      serve(call);
    },
    info(_call: unknown, callback: grpc.sendUnaryData<AgentInfo>) {
      callback(null, info);
    },
    fetchRun(call: grpc.ServerWritableStream<FetchRunRequest, BlobChunk>) {
      if (!shuffle) return call.emit('error', { code: grpc.status.UNAVAILABLE, details: 'agent is still starting' });
      shuffle.serve(call);
    },
    listRuns(call: grpc.ServerUnaryCall<ListRunsRequest, ListRunsReply>, callback: grpc.sendUnaryData<ListRunsReply>) {
      if (!shuffle) return callback({ code: grpc.status.UNAVAILABLE, details: 'agent is still starting' });
      shuffle.listRuns(call.request.jobId).then(
        (runIds) => callback(null, { runIds }),
        (err: Error) => callback({ code: grpc.status.INVALID_ARGUMENT, details: err.message }),
      );
    },
  });
  const port = await bindServer(server, formatAddress({ host, port: options.port }), security, 'agent', refused);
  // Hand-given labels first; a hand-given `arch=`/`model=` wins over the measured one.
  const own = (await hardwareLabels(options.modelPath)).filter((l) => !options.labels.some((g) => g.split('=')[0] === l.split('=')[0]));
  info = agentInfo({ id: options.id ?? (await stableNodeId(cacheDir, port)), cores: options.cores, labels: [...options.labels, ...own] });
  // Runs left by an earlier life of this agent go (the coordinator counted them lost with it and ran their maps
  // again); finished parts stay, for clients that read a completed job's result later.
  const shuffleDir = join(cacheDir, 'shuffle', info.id);
  await mkdir(shuffleDir, { recursive: true, mode: 0o700 });
  shuffle = new ShuffleRuns(shuffleDir, info.id, security);
  chunks = new ChunkCache(
    join(cacheDir, 'chunks', info.id),
    options.chunkCacheBytes,
    (hash, bytes) => log(`fetched input chunk ${hash.slice(0, 12)}… (${formatBytes(bytes)}) from the coordinator`),
    options.localChunk,
  );
  await shuffle.sweep();
  pools = new TaskPools({ threads: info.cores, memoryMb: options.taskMemoryMb ?? defaultTaskMemoryMb(info), idleTimeoutMs: options.idleTimeoutMs });
  const address = formatAddress({ host, port });
  let mdns: Mdns | undefined;
  if (options.mdns) {
    // mDNS code loads only when it is used.
    const { AGENT_SERVICE, agentTxt, startMdns } = await import('@picompute/sdk/mdns');
    // TXT carries arch already, and only the hand-given labels: a TXT string holds 255 bytes.
    const txt = agentTxt({ ...info, labels: options.labels }, options.advertiseAddress);
    mdns = startMdns(log);
    mdns.publish({ name: info.id, type: AGENT_SERVICE, port, txt });
  }
  // One registration per coordinator named: whichever leads dials this agent; a standby refuses until it leads.
  const registrations = options.coordinators.map((coordinator) =>
    startRegistration({
      coordinator,
      security,
      address: options.advertiseAddress ?? advertisable(host, port),
      info,
      isServed: () => sessions.size > 0,
      log,
    }),
  );
  // prom-client loads only when metrics are asked for (it would cost an idle agent memory).
  const metrics =
    options.metricsPort === undefined
      ? undefined
      : await (await import('./metrics.js')).serveAgentMetrics({
          host: options.metricsHost ?? '127.0.0.1',
          port: options.metricsPort,
          node: info.id,
          cores: info.cores,
          busy: () => pools.busy,
          thermalPath: options.thermalPath,
          sensors,
          chunks: () => chunks,
        });

  return {
    info,
    address,
    metricsUrl: metrics && `${metrics.url}/metrics`,
    connectInProcess() {
      const { client, server } = inProcessPair<ToAgent, FromAgent>(wireNormalizer('ToAgent'), wireNormalizer('FromAgent'));
      serve(server, false);
      return client;
    },
    readRun: (jobId, runId) => shuffle.chunks(jobId, runId),
    async close() {
      // The goodbye first, so coordinators drop this node at once.
      await mdns?.close();
      for (const r of registrations) r.stop();
      speed?.stop();
      keeper.stop();
      for (const s of sessions) s.close();
      await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
      await metrics?.close();
      await pools.close();
      shuffle.close();
    },
  };
}

/**
 * The address to give a coordinator: the one asked for, or for a wildcard
 * bind, the local address of the route to that coordinator (found when
 * registering; see ./register.ts), since a bare host name often does not
 * resolve where multicast does not pass either.
 */
function advertisable(host: string, port: number): string | ((route: string) => string) {
  const wildcard = host === '0.0.0.0' || host === '::';
  return wildcard ? (route: string) => formatAddress({ host: route || hostname(), port }) : formatAddress({ host, port });
}

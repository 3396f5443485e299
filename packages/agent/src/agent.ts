/**
 * The agent daemon: an AgentService gRPC server over a pool of worker
 * threads. The coordinator dials it (named by hand, found by mDNS, or told by
 * the agent itself through `coordinator`, see ./register.ts).
 *
 * It binds 127.0.0.1 unless told otherwise. Until the cluster key lands, an
 * agent bound to another address runs whatever code anyone on its network
 * sends it.
 */
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { formatAddress, SERVER_OPTIONS, wireServices } from '@picompute/sdk/wire';
import type { AgentInfo, FromAgent, ToAgent } from '@picompute/sdk/wire';
import { BundleCache } from './bundle-cache.js';
import { agentInfo } from './node-facts.js';
import { TaskPools } from './pool.js';
import { startRegistration } from './register.js';
import { WorkSession } from './work-session.js';

export interface AgentOptions {
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** Worker threads; default: every core. */
  cores?: number;
  labels?: string[];
  id?: string;
  /** Where bundles are cached; default ~/.cache/picompute/agent. */
  cacheDir?: string;
  /** Default per-task heap limit in MiB; default: this node's memory shared by its cores, 256–4096. */
  taskMemoryMb?: number;
  /** `host:port` of a coordinator to register with (when it cannot find or name this agent). */
  coordinator?: string;
  /** The address the coordinator should dial, when it differs from host:port (NAT, 0.0.0.0). */
  advertiseAddress?: string;
  heartbeatMs?: number;
  /** Thermal sensor file; tests point it at a fixture. */
  thermalPath?: string;
  /** Seconds an idle worker thread lives before it is let go. */
  idleTimeoutMs?: number;
  log?: (line: string) => void;
}

export interface Agent {
  readonly info: AgentInfo;
  /** The address the agent listens on, `host:port`. */
  readonly address: string;
  close(): Promise<void>;
}

export function defaultTaskMemoryMb(info: AgentInfo): number {
  return Math.min(4096, Math.max(256, Math.floor((info.memoryMb * 0.75) / Math.max(1, info.cores))));
}

export function defaultCacheDir(): string {
  const base = process.env.XDG_CACHE_HOME || (homedir() ? join(homedir(), '.cache') : tmpdir());
  return join(base, 'picompute', 'agent');
}

export async function startAgent(options: AgentOptions = {}): Promise<Agent> {
  const host = options.host ?? '127.0.0.1';
  const log = options.log ?? ((line: string) => console.error(`[agent] ${line}`));
  const info = agentInfo({ id: options.id, cores: options.cores, labels: options.labels });
  if (!Number.isInteger(info.cores) || info.cores < 1) throw new RangeError(`--cores must be a whole number ≥ 1, not ${options.cores}`);
  const pools = new TaskPools({ threads: info.cores, memoryMb: options.taskMemoryMb ?? defaultTaskMemoryMb(info), idleTimeoutMs: options.idleTimeoutMs });
  const bundles = new BundleCache(options.cacheDir ?? defaultCacheDir());
  const sessions = new Set<WorkSession>();

  const server = new grpc.Server(SERVER_OPTIONS);
  server.addService(wireServices().AgentService.service, {
    work(call: grpc.ServerDuplexStream<ToAgent, FromAgent>) {
      const session = new WorkSession(call, { info, pools, bundles, heartbeatMs: options.heartbeatMs ?? 1000, thermalPath: options.thermalPath, log });
      sessions.add(session);
      void session.closed.then(() => sessions.delete(session));
    },
    info(_call: unknown, callback: grpc.sendUnaryData<AgentInfo>) {
      callback(null, info);
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(formatAddress({ host, port: options.port ?? 0 }), grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(new Error(`agent cannot listen on ${formatAddress({ host, port: options.port ?? 0 })}: ${err.message}`)) : resolve(p),
    ),
  );
  const address = formatAddress({ host, port });
  const registration = options.coordinator
    ? startRegistration({ coordinator: options.coordinator, address: options.advertiseAddress ?? advertisable(host, port), info, isServed: () => sessions.size > 0, log })
    : undefined;

  return {
    info,
    address,
    async close() {
      registration?.stop();
      for (const s of sessions) s.close();
      await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
      await pools.close();
    },
  };
}

/** A wildcard bind is not an address anyone can dial: name the host instead. */
function advertisable(host: string, port: number): string {
  const wildcard = host === '0.0.0.0' || host === '::';
  return formatAddress({ host: wildcard ? agentInfo().hostname : host, port });
}

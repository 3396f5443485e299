/**
 * The agent's options, with their defaults, compiled and checked in this one
 * place: startAgent() reads only the compiled form, and a bad value is
 * refused naming the option (the CLI checks its flags before they get here).
 */
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Security } from '@picompute/sdk/auth';
import { address, OptionError, wholeNumber } from '@picompute/sdk/options';
import { MAX_MESSAGE_BYTES } from '@picompute/sdk/wire';
import { DEFAULT_SPEED_PROBE_MS, DEFAULT_SPEED_REPROBE_MS } from './speed-probe.js';
import { DEFAULT_CHUNK_CACHE_BYTES } from './chunk-cache.js';

export interface AgentOptions {
  /** Address to listen on; default 127.0.0.1 (any other needs `security.key`). */
  host?: string;
  /** Cluster key and TLS; default none (loopback only). */
  security?: Security;
  /** Port to listen on; default 0, a free one. */
  port?: number;
  /** Worker threads; default every core. */
  cores?: number;
  /** Labels jobs can ask for with a constraint; default none. */
  labels?: string[];
  /** Node id; default the host name and a hash of its hardware addresses and port, stable across restarts. */
  id?: string;
  /** Where bundles and shared values are cached; default $XDG_CACHE_HOME/picompute/agent (~/.cache/…). */
  cacheDir?: string;
  /** Default per-task memory limit, MiB; default this node's memory × ¾ shared by its cores, 256–4096. */
  taskMemoryMb?: number;
  /**
   * `host:port` of a coordinator to register with (when it cannot find or name this agent), or several
   * separated by commas (coordinators on one PostgreSQL state: the leader takes it, standbys refuse); default none.
   */
  coordinator?: string;
  /** The address the coordinator should dial, when it differs from host:port (NAT, 0.0.0.0); default none. */
  advertiseAddress?: string;
  /** Heartbeat period on the Work stream, ms; default 1000 (the coordinator counts a node down after 3 s of silence). */
  heartbeatMs?: number;
  /** Publish this agent over mDNS (`_picompute._tcp`) so coordinators find it; default false. */
  mdns?: boolean;
  /** SoC temperature file; default /sys/class/thermal/thermal_zone0/temp (tests point it at a fixture). */
  thermalPath?: string;
  /** The Pi firmware's get_throttled file; default sysfs, else `vcgencmd` (tests point it at a fixture). */
  throttlePath?: string;
  /** Wall time of the speed probe run at start, ms (see ./speed-probe.ts); default 150, 0 skips it (the node then counts as fast as the fastest). */
  speedProbeMs?: number;
  /** How often an idle agent probes its speed again, ms (the best of its last probes counts; see ./speed-probe.ts); default 10 minutes, 0 never. */
  speedReprobeMs?: number;
  /** Where the board's model is read for the `model=` label; default /proc/device-tree/model (tests point it at a fixture). */
  modelPath?: string;
  /** Serve Prometheus metrics at http://metricsHost:metricsPort/metrics (0 picks a port); default none. */
  metricsPort?: number;
  /** Address for metricsPort; default 127.0.0.1, so metrics reach the LAN only when asked for. */
  metricsHost?: string;
  /** Milliseconds an idle worker thread lives before it is let go; default 30,000 (see pool.ts). */
  idleTimeoutMs?: number;
  /**
   * Largest message a peer may send, bytes; default 64 MiB. Results going
   * back are split to stay under it too (and under the coordinator's 64 MiB).
   */
  maxMessageBytes?: number;
  /** Where log lines go; default stderr with an `[agent]` prefix. */
  log?: (line: string) => void;
  /**
   * Input chunks of file-input jobs kept on this node's disk (under cacheDir) for the maps that need them again, bytes;
   * least recently used dropped first, never one a task uses. Default 1 GiB (see ./chunk-cache.ts).
   */
  chunkCacheBytes?: number;
  /**
   * A coordinator in this process (the embedded cluster): the file its chunk
   * store keeps a chunk in, which the cache hard-links instead of fetching
   * the chunk over the Work stream (a copy, a hash and a write of every input
   * byte saved). Undefined for a chunk it lacks, which is then fetched.
   */
  localChunk?: (hash: string) => string | undefined;
  /** Bytes a keyed job's map task buffers before it spills a sorted run to disk; default a quarter of its memory limit, at most 64 MiB. */
  spillBytes?: number;
}

type Compiled = Required<
  Pick<AgentOptions, 'host' | 'security' | 'port' | 'labels' | 'cacheDir' | 'heartbeatMs' | 'mdns' | 'maxMessageBytes' | 'speedProbeMs' | 'log'>
> &
  Omit<AgentOptions, 'host' | 'security' | 'port' | 'labels' | 'cacheDir' | 'heartbeatMs' | 'mdns' | 'maxMessageBytes' | 'speedProbeMs' | 'log'> & {
    /** `coordinator`, split at its commas. */
    coordinators: string[];
  };

export function defaultCacheDir(): string {
  const base = process.env.XDG_CACHE_HOME || (homedir() ? join(homedir(), '.cache') : tmpdir());
  return join(base, 'picompute', 'agent');
}

const positive = (name: string, value: number | undefined) => (value === undefined ? undefined : wholeNumber('agent', name, value, 1));

/** The options startAgent() runs with: defaults filled in, every given value checked. */
export function agentOptions(o: AgentOptions): Compiled {
  if (o.port !== undefined && wholeNumber('agent', 'port', o.port) > 65535) throw new OptionError(`agent option port must be 0–65535, not ${o.port}`);
  return {
    ...o,
    host: o.host ?? '127.0.0.1',
    security: o.security ?? {},
    port: o.port ?? 0,
    cores: positive('cores', o.cores),
    labels: o.labels ?? [],
    cacheDir: o.cacheDir ?? defaultCacheDir(),
    taskMemoryMb: positive('taskMemoryMb', o.taskMemoryMb),
    coordinators: (o.coordinator ?? '')
      .split(',')
      .filter((c) => c.trim())
      .map((c) => address('agent', 'coordinator', c.trim())),
    heartbeatMs: positive('heartbeatMs', o.heartbeatMs) ?? 1000,
    mdns: o.mdns ?? false,
    speedProbeMs: o.speedProbeMs === undefined ? DEFAULT_SPEED_PROBE_MS : wholeNumber('agent', 'speedProbeMs', o.speedProbeMs),
    speedReprobeMs: o.speedReprobeMs === undefined ? DEFAULT_SPEED_REPROBE_MS : wholeNumber('agent', 'speedReprobeMs', o.speedReprobeMs),
    idleTimeoutMs: o.idleTimeoutMs === undefined ? undefined : wholeNumber('agent', 'idleTimeoutMs', o.idleTimeoutMs),
    maxMessageBytes: positive('maxMessageBytes', o.maxMessageBytes) ?? MAX_MESSAGE_BYTES,
    chunkCacheBytes: o.chunkCacheBytes === undefined ? DEFAULT_CHUNK_CACHE_BYTES : wholeNumber('agent', 'chunkCacheBytes', o.chunkCacheBytes),
    log: o.log ?? ((line: string) => console.error(`[agent] ${line}`)),
  };
}

/**
 * The coordinator's options, with their defaults, compiled and checked in
 * this one place: startCoordinator() reads only the compiled form, and a bad
 * value is refused naming the option (the CLI checks its flags before).
 */
import type { Security } from '@picompute/sdk/auth';
import { address, wholeNumber } from '@picompute/sdk/options';
import { MAX_MESSAGE_BYTES } from '@picompute/sdk/wire';
import { DEFAULT_TIME_LIMIT_MS } from './submit-checks.js';
import { defaultStateDir } from './state/database.js';

/** Two of the largest upload (1 GiB): a user can have one job's inputs waiting while sending the next. */
export const DEFAULT_UPLOAD_QUOTA_BYTES = 2 * 1024 ** 3;

/** Input chunks kept for reuse beyond the live jobs': a few runs' worth of inputs on a Pi's card. */
export const DEFAULT_CHUNK_STORE_BYTES = 2 * 1024 ** 3;

export interface CoordinatorOptions {
  /** Where jobs, tasks, results and logs are kept (SQLite); default $XDG_STATE_HOME/picompute (~/.local/state/…). */
  stateDir?: string;
  /**
   * Keep the state in PostgreSQL instead (`postgres://user@host:port/database`, no password in it):
   * several coordinators on one database, one leading and the others standing by (see ./state/postgres/).
   * stateDir then holds only the leader's working copy.
   */
  stateUrl?: string;
  /** File holding the PostgreSQL password; default none (PGPASSFILE or ~/.pgpass, as libpq). */
  statePasswordFile?: string;
  /** How long a leader over PostgreSQL holds the lead without renewing it, ms; a standby takes over after it. Default 3000. */
  leaseMs?: number;
  /** The address other coordinators and clients are told to dial for this one; default host:port (the host name for 0.0.0.0). */
  advertiseAddress?: string;
  /** Finished jobs and their results are kept this long, ms; default 7 days. */
  keepMs?: number;
  /** False for state that dies with the process (the embedded cluster): no fsync. Default true. */
  durable?: boolean;
  /** Address to listen on; default 127.0.0.1 (any other needs `security.key`). */
  host?: string;
  /** Cluster key and TLS; default none (loopback only). */
  security?: Security;
  /** Port to listen on; default 0, a free one. */
  port?: number;
  /** Agents to dial, `host:port` each; default none (mDNS or registration finds them). */
  agents?: string[];
  /** Find agents and announce this coordinator over mDNS; default false. */
  mdns?: boolean;
  /** Per-task time limit of a job that names none, ms (Slurm's DefaultTime); default 1 hour. 0: none. */
  defaultTimeLimitMs?: number;
  /** The most a job may ask for per task, ms (Slurm's MaxTime); a submit over it is refused. Default 0: no cap. */
  maxTimeLimitMs?: number;
  /** A node that sends nothing for this long is marked down, ms; default 3000 (agents beat every second). */
  deadAfterMs?: number;
  /** A task that has run this long (and twice its phase's median) may get a backup copy on another node, ms; default 10,000 (../jobs/backup-plan.ts). */
  backupAfterMs?: number;
  /** After a restart, how long a keyed job waits for the nodes holding its finished maps' runs before those maps run again, ms; default 30,000. */
  runsGraceMs?: number;
  /** An upload (PutBlob) that sends nothing for this long is dropped, ms; default 30,000. */
  uploadIdleMs?: number;
  /** Largest blob (bundle or packed inputs) a client may upload, bytes; default 1 GiB. */
  maxBlobBytes?: number;
  /** What one user's uploads waiting for their submit may hold on disk, bytes; default 2 GiB. */
  uploadQuotaBytes?: number;
  /**
   * Input chunks (`input` files, see ./chunk-store.ts) no live job references are kept for the next submit of the
   * same files up to this many bytes in all, least recently used dropped first; default 2 GiB. 0 keeps none.
   */
  chunkStoreBytes?: number;
  /** Largest message a peer may send, bytes; default 64 MiB. */
  maxMessageBytes?: number;
  /** Serve Prometheus metrics at http://metricsHost:metricsPort/metrics (0 picks a port); default none. */
  metricsPort?: number;
  /** Address for metricsPort; default 127.0.0.1, so metrics reach the LAN only when asked for. */
  metricsHost?: string;
  /**
   * Serve the web dashboard (see ./dashboard/server.ts) on host:port; default none.
   * `optional`: a port in use is logged and the coordinator runs without it
   * (the default port, where another coordinator may hold it).
   */
  dashboard?: { host: string; port: number; optional?: boolean };
  /** Where log lines go; default stderr with a `[coordinator]` prefix. */
  log?: (line: string) => void;
}

const n = (name: string, value: number | undefined, min = 0) => (value === undefined ? undefined : wholeNumber('coordinator', name, value, min));

/** The options startCoordinator() runs with: defaults filled in, every given value checked. */
export function coordinatorOptions(o: CoordinatorOptions) {
  return {
    ...o,
    stateDir: o.stateDir ?? defaultStateDir(),
    leaseMs: n('leaseMs', o.leaseMs, 300) ?? 3000,
    advertiseAddress: o.advertiseAddress === undefined ? undefined : address('coordinator', 'advertiseAddress', o.advertiseAddress),
    keepMs: n('keepMs', o.keepMs) ?? 7 * 86_400_000,
    durable: o.durable ?? true,
    host: o.host ?? '127.0.0.1',
    security: o.security ?? {},
    port: n('port', o.port) ?? 0,
    agents: (o.agents ?? []).map((a) => address('coordinator', 'agents', a)),
    mdns: o.mdns ?? false,
    defaultTimeLimitMs: n('defaultTimeLimitMs', o.defaultTimeLimitMs) ?? DEFAULT_TIME_LIMIT_MS,
    maxTimeLimitMs: n('maxTimeLimitMs', o.maxTimeLimitMs) ?? 0,
    deadAfterMs: n('deadAfterMs', o.deadAfterMs, 1),
    backupAfterMs: n('backupAfterMs', o.backupAfterMs, 1),
    runsGraceMs: n('runsGraceMs', o.runsGraceMs),
    uploadIdleMs: n('uploadIdleMs', o.uploadIdleMs, 1) ?? 30_000,
    maxBlobBytes: n('maxBlobBytes', o.maxBlobBytes, 1) ?? 1024 ** 3,
    uploadQuotaBytes: n('uploadQuotaBytes', o.uploadQuotaBytes, 1) ?? DEFAULT_UPLOAD_QUOTA_BYTES,
    chunkStoreBytes: n('chunkStoreBytes', o.chunkStoreBytes) ?? DEFAULT_CHUNK_STORE_BYTES,
    maxMessageBytes: n('maxMessageBytes', o.maxMessageBytes, 1) ?? MAX_MESSAGE_BYTES,
    log: o.log ?? ((line: string) => console.error(`[coordinator] ${line}`)),
  };
}

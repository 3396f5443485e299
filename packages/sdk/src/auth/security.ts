/**
 * What a process needs to talk to a cluster safely: the cluster key and,
 * optionally, TLS files. One place turns them into gRPC credentials and
 * interceptors for both clients and servers.
 *
 * Use TLS on a LAN you do not trust or when job data is private: the key
 * alone proves membership but leaves payloads readable on the wire.
 * `--tls-ca` on a server makes it mutual (clients must show a certificate
 * signed by that CA); on a client it is the CA that signed the servers.
 */
import { readFile } from 'node:fs/promises';
import * as grpc from '@grpc/grpc-js';
import type { ReplayGuard } from './hmac.js';
import { clientAuthInterceptor, serverAuthInterceptor } from './interceptors.js';
import { KeyError, loadClusterKey } from './key.js';

export interface TlsMaterial {
  cert?: Buffer;
  key?: Buffer;
  ca?: Buffer;
}

export interface Security {
  /** Undefined only on loopback-only daemons and their clients. */
  key?: Buffer;
  keySource?: string;
  tls?: TlsMaterial;
}

export interface SecurityFlags {
  keyFile?: string;
  tlsCert?: string;
  tlsKey?: string;
  tlsCa?: string;
}

async function readPem(path: string | undefined, flag: string): Promise<Buffer | undefined> {
  if (!path) return undefined;
  return readFile(path).catch((err: Error) => {
    throw new KeyError(`${flag} ${path} cannot be read: ${err.message}`);
  });
}

export async function loadSecurity(flags: SecurityFlags = {}): Promise<Security> {
  const found = await loadClusterKey({ keyFile: flags.keyFile });
  const [cert, key, ca] = await Promise.all([readPem(flags.tlsCert, '--tls-cert'), readPem(flags.tlsKey, '--tls-key'), readPem(flags.tlsCa, '--tls-ca')]);
  if (Boolean(cert) !== Boolean(key)) throw new KeyError('--tls-cert and --tls-key go together: give both, or neither');
  const tls = cert || ca ? { cert, key, ca } : undefined;
  return { key: found?.key, keySource: found?.source, tls };
}

export function channelCredentials(sec: Security): grpc.ChannelCredentials {
  if (!sec.tls) return grpc.credentials.createInsecure();
  return grpc.credentials.createSsl(sec.tls.ca ?? null, sec.tls.key ?? null, sec.tls.cert ?? null);
}

export function clientInterceptors(sec: Security, requireProof: boolean): grpc.Interceptor[] {
  return sec.key ? [clientAuthInterceptor({ key: sec.key, requireProof })] : [];
}

export function serverCredentials(sec: Security): grpc.ServerCredentials {
  if (!sec.tls?.cert || !sec.tls.key) return grpc.ServerCredentials.createInsecure();
  return grpc.ServerCredentials.createSsl(sec.tls.ca ?? null, [{ private_key: sec.tls.key, cert_chain: sec.tls.cert }], Boolean(sec.tls.ca));
}

export function serverInterceptors(sec: Security, onRefused?: (peer: string, method: string, reason: string) => void, guard?: ReplayGuard): grpc.ServerInterceptor[] {
  return sec.key ? [serverAuthInterceptor({ key: sec.key, onRefused, guard })] : [];
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;

export function isLoopback(host: string): boolean {
  return LOOPBACK.test(host);
}

/**
 * A daemon that listens beyond loopback runs (or hands out) code for anyone
 * who reaches it, so it must have the key. Throws the message the user reads.
 */
export function requireKeyUnlessLoopback(sec: Security, host: string, daemon: 'agent' | 'coordinator'): void {
  if (sec.key || isLoopback(host)) return;
  throw new KeyError(
    `no cluster key: a ${daemon} listening on ${host} would run code for anyone who reaches it, so it refuses to start.\n` +
      `  Make a key on one node with \`picompute init\` and copy it to every node (same path, mode 600),\n` +
      `  or pass --key-file / set PICOMPUTE_KEY_FILE; or run local-only with --host 127.0.0.1 (the one case that needs no key).`,
  );
}

/** Logs a refused peer once, so a stranger on the LAN cannot flood the log. */
export function refusalLogger(log: (line: string) => void): (peer: string, method: string, reason: string) => void {
  const seen = new Set<string>();
  return (peer, method, reason) => {
    const host = peer.replace(/:\d+$/, '');
    const key = `${host} ${reason}`;
    if (seen.has(key) || seen.size > 1000) return;
    seen.add(key);
    log(`refused ${method} from ${host}: ${reason} (logged once per peer)`);
  };
}

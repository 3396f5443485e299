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
import type { Http2Server, ServerHttp2Session } from 'node:http2';
import { readFile } from 'node:fs/promises';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { CHANNEL_OPTIONS, RECEIVE_WINDOW_BYTES } from '../wire/options.js';
import type { PeerReplayGuards } from './hmac.js';
import { clusterTls, handshakeCause } from './cluster-tls.js';
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
  const [cert, key, ca] = await Promise.all([readPem(flags.tlsCert, '`tlsCert`'), readPem(flags.tlsKey, '`tlsKey`'), readPem(flags.tlsCa, '`tlsCa`')]);
  if (Boolean(cert) !== Boolean(key)) throw new KeyError('`tlsCert` and `tlsKey` go together: give both, or neither');
  const tls = cert || ca ? { cert, key, ca } : undefined;
  return { key: found?.key, keySource: found?.source, tls };
}

/**
 * A keyed client speaks key-derived mutual TLS (cluster-tls.ts) unless the
 * user brought their own certificates; only a keyless client on a keyless
 * loopback daemon speaks plain HTTP/2.
 */
export function channelCredentials(sec: Security): grpc.ChannelCredentials {
  let creds = channelCredentialsOf.get(sec);
  if (!creds) channelCredentialsOf.set(sec, (creds = newChannelCredentials(sec)));
  return creds;
}

/**
 * One set of channel credentials per Security: each holds a TLS secure
 * context (CA, certificate and key parsed), which a coordinator made anew
 * for every agent it dials (bench --scale: 1,000 of them, seconds of CPU
 * and tens of MiB). Channels share credentials safely; each connection
 * still makes its own TLS session.
 */
const channelCredentialsOf = new WeakMap<Security, grpc.ChannelCredentials>();

function newChannelCredentials(sec: Security): grpc.ChannelCredentials {
  if (sec.tls) return grpc.credentials.createSsl(sec.tls.ca ?? null, sec.tls.key ?? null, sec.tls.cert ?? null);
  if (!sec.key) return grpc.credentials.createInsecure();
  const own = clusterTls(sec.key);
  // Membership is the key, not a host name: the chain to the key's CA is the check.
  return grpc.credentials.createSsl(own.ca, own.key, own.cert, { checkServerIdentity: () => undefined });
}

/** With a key the server must prove it (the TLS handshake already made it; the header proof is checked on top). */
export function clientInterceptors(sec: Security): grpc.Interceptor[] {
  return sec.key ? [clientAuthInterceptor({ key: sec.key, requireProof: true })] : [];
}

/**
 * Channel options for a client of `sec`. On key-derived TLS the name sent
 * in the handshake is a fixed one: certificates name no host, and Node warns
 * when a TLS server name is an IP address.
 */
export function clientChannelOptions(sec: Security): grpc.ChannelOptions {
  return {
    ...CHANNEL_OPTIONS,
    ...(sec.key && !sec.tls ? { 'grpc.ssl_target_name_override': 'picompute' } : {}),
    interceptors: clientInterceptors(sec),
  };
}

export function serverCredentials(sec: Security): grpc.ServerCredentials {
  if (sec.tls?.cert && sec.tls.key) {
    return grpc.ServerCredentials.createSsl(sec.tls.ca ?? null, [{ private_key: sec.tls.key, cert_chain: sec.tls.cert }], Boolean(sec.tls.ca));
  }
  if (!sec.key) return grpc.ServerCredentials.createInsecure();
  const own = clusterTls(sec.key);
  // Client certificates required: a peer without the key is dropped in the handshake, before any request.
  return grpc.ServerCredentials.createSsl(own.ca, [{ private_key: own.key, cert_chain: own.cert }], true);
}

export function serverInterceptors(
  sec: Security,
  onRefused?: (peer: string, method: string, reason: string) => void,
  guards?: PeerReplayGuards,
): grpc.ServerInterceptor[] {
  return sec.key ? [serverAuthInterceptor({ key: sec.key, onRefused, guards })] : [];
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
      `  or pass \`keyFile\` / set PICOMPUTE_KEY_FILE; or run local-only with \`host\` 127.0.0.1 (the one case that needs no key).`,
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

type RefusalLog = (peer: string, method: string, reason: string) => void;

/**
 * Lets a peer send RECEIVE_WINDOW_BYTES on a stream and on a connection
 * before this server reads them, as clients do (../wire/options.ts): with
 * HTTP/2's 64 KiB, every upload to a daemon (a job's inputs to the
 * coordinator, an Assign's inputs and input chunks to an agent) went in
 * 64 KiB round trips. 50 MB of inputs to a coordinator on loopback: 320–430
 * → 230–290 ms; more on a network, where a round trip is longer.
 */
function raiseReceiveWindow(h2: Http2Server): void {
  // The stream window is a setting; the connection's can only grow by a WINDOW_UPDATE, which this sends.
  h2.updateSettings({ initialWindowSize: RECEIVE_WINDOW_BYTES });
  h2.on('session', (session: ServerHttp2Session) => {
    try {
      session.setLocalWindowSize(RECEIVE_WINDOW_BYTES);
    } catch {
      // A session already closing: nothing to raise.
    }
  });
}

/**
 * Binds a daemon's server with `sec`'s credentials, raises its HTTP/2
 * receive window (raiseReceiveWindow) and logs the connections refused in
 * the TLS handshake (a stranger, or another key), which no interceptor
 * sees. grpc-js has no hook for either, so this reaches its HTTP/2 servers
 * (a private field of grpc-js 1.14; without it, uploads are slower and it
 * logs less). Resolves to the bound port; `daemon` names it in the error.
 */
export async function bindServer(server: grpc.Server, address: string, sec: Security, daemon: string, onRefused?: RefusalLog): Promise<number> {
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(address, serverCredentials(sec), (err, p) =>
      err ? reject(new Error(`${daemon} cannot listen on ${address}: ${err.message}`)) : resolve(p),
    ),
  );
  const http2Servers = (server as unknown as { http2Servers?: Map<Http2Server, unknown> }).http2Servers;
  for (const h2 of http2Servers?.keys() ?? []) raiseReceiveWindow(h2);
  if (onRefused && (sec.key || sec.tls)) {
    for (const h2 of http2Servers?.keys() ?? []) {
      // Read the peer's address at once: a socket that hangs up mid-handshake no longer knows it.
      h2.on('connection', (raw: Socket) => void raw.remoteAddress);
      h2.on('tlsClientError', (err: Error, socket: TLSSocket & { _parent?: Socket }) => {
        const host = (socket.remoteAddress ?? socket._parent?.remoteAddress)?.replace(/^::ffff:/, '');
        const cause = handshakeCause(err.message);
        const reason = /hang up|ECONNRESET/.test(cause)
          ? 'it hung up in the TLS handshake (it does not trust this cluster: another key, or not picompute)'
          : `it showed no certificate of this cluster (${cause})`;
        onRefused(host ?? 'an unknown peer', 'a TLS connection', reason);
      });
    }
  }
  return port;
}

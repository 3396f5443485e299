/**
 * TLS that only holders of the cluster key can speak: the key-derived
 * transport every keyed picompute connection uses, with no files to hand out.
 *
 * Every holder of the key derives the same Ed25519 certificate authority
 * from it (HKDF, so the CA's private key is as secret as the cluster key and
 * never stored), and at start each process mints its own certificate signed
 * by that CA. Both ends of every connection present their certificate and
 * check the other's chain against the CA (mutual TLS 1.3): a peer without
 * the key cannot finish the handshake, so it never sees a request, a header
 * or a byte of job data, and nothing recorded on one connection can be
 * played on another (the TLS session keys are fresh per connection).
 *
 * Certificates carry no host names (the key, not the name, is what makes a
 * peer a member) and are valid from 2020 to 9999: a Pi without a real-time
 * clock may boot years in the past, and a process's certificate dies with
 * the process anyway. Revocation is rotating the cluster key.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, hkdfSync, randomBytes, sign } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { hostname } from 'node:os';
import { bits, bool, explicit, octets, oid, seq, set, time, uint, utf8 } from './der.js';

export interface ClusterTls {
  /** PEM of the cluster's CA certificate, the same bytes on every node. */
  ca: Buffer;
  /** This process's certificate (PEM), signed by the CA. */
  cert: Buffer;
  /** This process's private key (PEM). */
  key: Buffer;
  /** Short fingerprint of the CA, for logs: the same on every node of one cluster. */
  fingerprint: string;
}

const ED25519 = seq(oid('1.3.101.112'));
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const NOT_BEFORE = new Date(Date.UTC(2020, 0, 1));
const NOT_AFTER = new Date(Date.UTC(9999, 11, 31, 23, 59, 59));

const name = (cn: string): Buffer => seq(set(seq(oid('2.5.4.10'), utf8('picompute'))), set(seq(oid('2.5.4.3'), utf8(cn))));
const extension = (id: string, critical: boolean, value: Buffer): Buffer => seq(oid(id), ...(critical ? [bool(true)] : []), octets(value));

function certificate(opts: { serial: Buffer; issuer: Buffer; subject: Buffer; publicKey: KeyObject; signer: KeyObject; ca: boolean }): Buffer {
  const extensions = opts.ca
    ? [extension('2.5.29.19', true, seq(bool(true))), extension('2.5.29.15', true, bits(Buffer.from([0x06]), 1))]
    : [
        extension('2.5.29.19', true, seq()),
        extension('2.5.29.15', true, bits(Buffer.from([0x80]), 7)),
        // Both roles: every process is a server to some peers and a client to others.
        extension('2.5.29.37', false, seq(oid('1.3.6.1.5.5.7.3.1'), oid('1.3.6.1.5.5.7.3.2'))),
      ];
  const tbs = seq(
    explicit(0, uint(Buffer.from([2]))),
    uint(opts.serial),
    ED25519,
    opts.issuer,
    seq(time(NOT_BEFORE), time(NOT_AFTER)),
    opts.subject,
    opts.publicKey.export({ type: 'spki', format: 'der' }),
    explicit(3, seq(...extensions)),
  );
  return seq(tbs, ED25519, bits(sign(null, tbs, opts.signer)));
}

function pem(der: Buffer): Buffer {
  const body = der.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n?$/, '\n');
  return Buffer.from(`-----BEGIN CERTIFICATE-----\n${body}-----END CERTIFICATE-----\n`);
}

function deriveCa(clusterKey: Buffer): { key: KeyObject; cert: Buffer; subject: Buffer; fingerprint: string } {
  const seed = Buffer.from(hkdfSync('sha256', clusterKey, 'picompute cluster CA', 'picompute/v2 ca ed25519', 32));
  const key = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: 'der', type: 'pkcs8' });
  const publicKey = createPublicKey(key);
  const fingerprint = createHash('sha256')
    .update(publicKey.export({ type: 'spki', format: 'der' }))
    .digest('hex')
    .slice(0, 16);
  const subject = name(`picompute cluster ${fingerprint}`);
  // Ed25519 signatures are deterministic, so every node makes the same bytes.
  const cert = certificate({ serial: Buffer.from([1]), issuer: subject, subject, publicKey, signer: key, ca: true });
  return { key, cert, subject, fingerprint };
}

/**
 * Signs `data` with the cluster CA's private key: proof, to anyone holding
 * the CA certificate (or its hash, as a join token does), that the signer
 * holds the cluster key.
 */
export function signAsClusterCa(clusterKey: Buffer, data: Buffer): Buffer {
  return sign(null, data, deriveCa(clusterKey).key);
}

/** The cluster CA certificate in DER: what a join token pins by its SHA-256. */
export function clusterCaDer(clusterKey: Buffer): Buffer {
  return deriveCa(clusterKey).cert;
}

const minted = new Map<string, ClusterTls>();

/** The CA and this process's certificate for a cluster key (made once per process and key, in about a millisecond). */
export function clusterTls(clusterKey: Buffer): ClusterTls {
  const id = createHash('sha256').update(clusterKey).digest('hex');
  let tls = minted.get(id);
  if (!tls) {
    const ca = deriveCa(clusterKey);
    const mine = generateKeyPairSync('ed25519');
    const cert = certificate({
      serial: Buffer.concat([Buffer.from([0x40]), randomBytes(15)]),
      issuer: ca.subject,
      subject: name(`picompute ${hostname()} ${process.pid}`),
      publicKey: mine.publicKey,
      signer: ca.key,
      ca: false,
    });
    tls = { ca: pem(ca.cert), cert: pem(cert), key: Buffer.from(mine.privateKey.export({ type: 'pkcs8', format: 'pem' })), fingerprint: ca.fingerprint };
    minted.set(id, tls);
  }
  return tls;
}

/**
 * True when a connection failed in the TLS handshake (the text grpc-js
 * gives as "Last error: …"): the peer showed no certificate of this key's
 * CA, or spoke no TLS at all. Either way it is no member of this cluster.
 */
export function failedHandshake(details: string): boolean {
  return /certificate|wrong version number|unknown ca|decrypt error|bad signature|alert|secure TLS connection|EPROTO/i.test(details);
}

/** Why a handshake failed, from grpc-js's "Last error: …" text or OpenSSL's "…:routines:func:reason:…". */
export function handshakeCause(details: string): string {
  const last = /Last error: (?:Error: )?([\s\S]*?)(?:\. Resolution note:[\s\S]*)?$/.exec(details)?.[1] ?? details;
  return (/routines:[^:]*:([^:]+):/.exec(last)?.[1] ?? last).trim();
}

/** What a keyed process tells its user about a peer that failed the handshake. */
export function notMemberMessage(details: string): string {
  return `this server is not part of your cluster (it could not prove the cluster key). The TLS handshake failed: ${handshakeCause(details)}`;
}

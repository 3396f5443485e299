/**
 * Joining a node with one line: the join token, and the exchange that hands
 * a new node the cluster key only after the node has checked that it talks
 * to the coordinator the token was made for (k3s's secure token,
 * `K10<hash of the CA>::<secret>`, in picompute's terms).
 *
 * Token: "PC1" + base64url(pin 32 | id 8 | expires 4 | uses 1 | secret 16)
 * - pin: SHA-256 of the cluster CA certificate (DER), which every holder of
 *   the key derives (./cluster-tls.ts): it names the cluster, not a host.
 * - secret: HMAC-SHA256(key, "picompute join token v1" | id | expires | uses),
 *   first 16 bytes. The coordinator recomputes it, so `join-command` needs
 *   only the key and the coordinator stores nothing per token but how often
 *   each id was used.
 *
 * Exchange, over plain HTTP on the coordinator's dashboard port:
 * 1. GET /join/hello?nonce=N → { ca, pub, sig }: the CA certificate, an
 *    ephemeral X25519 key of the coordinator, and the CA's Ed25519 signature
 *    over "picompute join hello v1" | N | pub. The node checks SHA-256(ca)
 *    against the pin and the signature; a server without the cluster key
 *    fails here, having seen only a random nonce.
 * 2. POST /join/exchange { id, expires, uses, pub, agent, proof }: the
 *    node's own ephemeral X25519 key, and proof = HMAC(secret, "picompute
 *    join proof v1" | N | pub | agent). The coordinator checks the proof,
 *    the expiry and the uses left and answers the cluster key under
 *    AES-256-GCM with K = HKDF(X25519 shared secret, salt = secret,
 *    info = "picompute join key v1" | N | pub | agent). An eavesdropper has
 *    neither the X25519 secret nor the token's secret; a relay cannot swap
 *    `pub`, which the CA signed.
 */
import {
  X509Certificate,
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
} from 'node:crypto';
import { randomBytes, timingSafeEqual, verify } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { clusterCaDer, clusterTls, signAsClusterCa } from './cluster-tls.js';

export const JOIN_TOKEN_PREFIX = 'PC1';
const TOKEN_BYTES = 32 + 8 + 4 + 1 + 16;
/** How long a coordinator keeps a hello's ephemeral key waiting for its exchange. */
const HELLO_MS = 60_000;
const MAX_PENDING = 256;

export class JoinError extends Error {
  override name = 'JoinError';
  /** The HTTP status a coordinator answers this with. */
  constructor(
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

export interface JoinToken {
  pin: Buffer;
  id: Buffer;
  /** Unix seconds. */
  expires: number;
  uses: number;
  secret: Buffer;
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest();
const hmac = (key: Buffer, ...parts: Buffer[]) => parts.reduce((h, p) => h.update(p), createHmac('sha256', key)).digest();
const u32 = (n: number) => Buffer.from([(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]);
const text = (s: string) => Buffer.from(s);
const b64u = (b: Buffer) => b.toString('base64url');
/** The short form of a pin in messages: enough to tell two clusters apart. */
export const shortPin = (pin: Buffer) => `sha256:${pin.toString('hex').slice(0, 16)}`;

export function clusterPin(clusterKey: Buffer): Buffer {
  return sha256(clusterCaDer(clusterKey));
}

export function joinSecret(clusterKey: Buffer, id: Buffer, expires: number, uses: number): Buffer {
  return hmac(clusterKey, text('picompute join token v1'), id, u32(expires), Buffer.from([uses])).subarray(0, 16);
}

export function makeJoinToken(clusterKey: Buffer, o: { ttlMs: number; uses: number; now?: number }): string {
  if (!Number.isInteger(o.uses) || o.uses < 1 || o.uses > 255) throw new JoinError(`uses must be a whole number from 1 to 255, not ${o.uses}`);
  if (!(o.ttlMs >= 60_000)) throw new JoinError(`ttlMs must be at least a minute, not ${o.ttlMs} ms`);
  const id = randomBytes(8);
  const expires = Math.floor(((o.now ?? Date.now()) + o.ttlMs) / 1000);
  const secret = joinSecret(clusterKey, id, expires, o.uses);
  return JOIN_TOKEN_PREFIX + b64u(Buffer.concat([clusterPin(clusterKey), id, u32(expires), Buffer.from([o.uses]), secret]));
}

export function parseJoinToken(token: string): JoinToken {
  const t = token.trim();
  const raw = t.startsWith(JOIN_TOKEN_PREFIX) ? Buffer.from(t.slice(JOIN_TOKEN_PREFIX.length), 'base64url') : undefined;
  if (!raw || raw.length !== TOKEN_BYTES || b64u(raw) !== t.slice(JOIN_TOKEN_PREFIX.length))
    throw new JoinError(
      `"${t.length > 24 ? `${t.slice(0, 24)}…` : t}" is not a picompute join token (${JOIN_TOKEN_PREFIX} and ${Math.ceil((TOKEN_BYTES * 4) / 3)} more characters): copy the whole line that \`picompute join-command\` printed`,
    );
  return { pin: raw.subarray(0, 32), id: raw.subarray(32, 40), expires: raw.readUInt32BE(40), uses: raw[44]!, secret: raw.subarray(45) };
}

const helloSigned = (nonce: Buffer, pub: Buffer) => Buffer.concat([text('picompute join hello v1'), nonce, pub]);
const proofOf = (secret: Buffer, nonce: Buffer, pub: Buffer, agent: Buffer) => hmac(secret, text('picompute join proof v1'), nonce, pub, agent);
const boxKey = (shared: Buffer, secret: Buffer, nonce: Buffer, pub: Buffer, agent: Buffer) =>
  Buffer.from(hkdfSync('sha256', shared, secret, Buffer.concat([text('picompute join key v1'), nonce, pub, agent]), 32));
const x25519Public = (der: Buffer) => createPublicKey({ key: der, format: 'der', type: 'spki' });

function field(body: Record<string, unknown>, name: string, bytes?: number): Buffer {
  const v = body[name];
  const b = typeof v === 'string' ? Buffer.from(v, 'base64url') : undefined;
  if (!b || (bytes !== undefined && b.length !== bytes) || b.length === 0) throw new JoinError(`the join request's ${name} is missing or malformed`);
  return b;
}

/** How many times each token id was used; the coordinator keeps it across restarts. */
export interface UsedTokens {
  count(id: string): number;
  add(id: string): void;
}

/** The coordinator's side of the exchange. */
export class JoinDesk {
  readonly #pending = new Map<string, { priv: KeyObject; nonce: Buffer; until: number }>();

  constructor(
    readonly clusterKey: Buffer,
    readonly used: UsedTokens,
    readonly now: () => number = Date.now,
  ) {}

  hello(nonceText: string | null): { ca: string; pub: string; sig: string } {
    const nonce = Buffer.from(nonceText ?? '', 'base64url');
    if (nonce.length !== 16) throw new JoinError('the join hello needs nonce=<16 random bytes, base64url>');
    const now = this.now();
    for (const [k, v] of this.#pending) if (v.until < now || this.#pending.size >= MAX_PENDING) this.#pending.delete(k);
    const pair = generateKeyPairSync('x25519');
    const pub = pair.publicKey.export({ type: 'spki', format: 'der' });
    this.#pending.set(b64u(pub), { priv: pair.privateKey, nonce, until: now + HELLO_MS });
    return { ca: clusterTls(this.clusterKey).ca.toString(), pub: b64u(pub), sig: b64u(signAsClusterCa(this.clusterKey, helloSigned(nonce, pub))) };
  }

  exchange(body: Record<string, unknown>): { iv: string; box: string; tag: string } {
    const pub = field(body, 'pub');
    const hello = this.#pending.get(b64u(pub));
    if (!hello || hello.until < this.now()) throw new JoinError('this join handshake expired or was never started here: run the join again', 409);
    const id = field(body, 'id', 8);
    const expires = Number(body.expires);
    const uses = Number(body.uses);
    if (!Number.isInteger(expires) || !Number.isInteger(uses) || uses < 1 || uses > 255) throw new JoinError("the join request's expires or uses is malformed");
    const agent = field(body, 'agent');
    const secret = joinSecret(this.clusterKey, id, expires, uses);
    const proof = field(body, 'proof', 32);
    if (!timingSafeEqual(proof, proofOf(secret, hello.nonce, pub, agent)))
      throw new JoinError(
        "this join token was not made with this cluster's key (its secret does not match): copy the whole line again, or make a new one with `picompute join-command` on the coordinator",
        403,
      );
    if (expires * 1000 < this.now())
      throw new JoinError(`this join token expired at ${new Date(expires * 1000).toISOString()}: make a new one with \`picompute join-command\``, 403);
    const key = b64u(id);
    const count = this.used.count(key);
    if (count >= uses)
      throw new JoinError(
        `this join token was used already (${count} of ${uses} use${uses > 1 ? 's' : ''}): make a new one with \`picompute join-command\``,
        403,
      );
    let shared: Buffer;
    try {
      shared = diffieHellman({ privateKey: hello.priv, publicKey: x25519Public(agent) });
    } catch {
      throw new JoinError("the join request's agent key is not an X25519 public key");
    }
    this.#pending.delete(b64u(pub));
    this.used.add(key);
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', boxKey(shared, secret, hello.nonce, pub, agent), iv);
    const box = Buffer.concat([cipher.update(this.clusterKey), cipher.final()]);
    return { iv: b64u(iv), box: b64u(box), tag: b64u(cipher.getAuthTag()) };
  }
}

async function call(url: string, init?: RequestInit): Promise<Record<string, string>> {
  let res: Response;
  try {
    res = await fetch(url, { ...init, signal: AbortSignal.timeout(15_000) });
  } catch (err) {
    const cause = (err as { cause?: { message?: string } }).cause?.message ?? (err as Error).message;
    throw new JoinError(`cannot reach the coordinator at ${new URL(url).origin}: ${cause}`);
  }
  const body = await res.text();
  if (!res.ok) throw new JoinError(`the coordinator at ${new URL(url).origin} refused the join: ${body.trim() || res.statusText}`, res.status);
  try {
    return JSON.parse(body) as Record<string, string>;
  } catch {
    throw new JoinError(`the server at ${new URL(url).origin} does not speak picompute's join (it answered ${res.status} with no JSON)`);
  }
}

/**
 * The node's side: checks the coordinator at `baseUrl` against the token's
 * pin, then trades the token's secret for the cluster key.
 */
export async function fetchClusterKey(baseUrl: string, token: string): Promise<{ key: Buffer; pin: string }> {
  const t = parseJoinToken(token);
  const base = baseUrl.replace(/\/+$/, '');
  const nonce = randomBytes(16);
  const hello = await call(`${base}/join/hello?nonce=${b64u(nonce)}`);
  let ca: X509Certificate;
  try {
    ca = new X509Certificate(hello.ca ?? '');
  } catch {
    throw new JoinError(`the server at ${base} sent no certificate: it is not a picompute coordinator (nothing secret was sent)`);
  }
  const got = sha256(ca.raw);
  if (!got.equals(t.pin))
    throw new JoinError(
      `the coordinator at ${base} is not the one this token was made for: its cluster certificate is ${shortPin(got)}…, the token pins ${shortPin(t.pin)}…. ` +
        'Another server may be answering at this address; nothing secret was sent to it. Check the address, or make the line again with `picompute join-command` on the right coordinator.',
    );
  const pub = Buffer.from(hello.pub ?? '', 'base64url');
  if (!verify(null, helloSigned(nonce, pub), ca.publicKey, Buffer.from(hello.sig ?? '', 'base64url')))
    throw new JoinError(
      `the server at ${base} showed the pinned certificate but could not sign with the cluster's key: it is not the coordinator (nothing secret was sent)`,
    );
  const mine = generateKeyPairSync('x25519');
  const agent = mine.publicKey.export({ type: 'spki', format: 'der' });
  const answer = await call(`${base}/join/exchange`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      id: b64u(t.id),
      expires: t.expires,
      uses: t.uses,
      pub: b64u(pub),
      agent: b64u(agent),
      proof: b64u(proofOf(t.secret, nonce, pub, agent)),
    }),
  });
  const shared = diffieHellman({ privateKey: mine.privateKey, publicKey: x25519Public(pub) });
  try {
    const decipher = createDecipheriv('aes-256-gcm', boxKey(shared, t.secret, nonce, pub, agent), Buffer.from(answer.iv ?? '', 'base64url'));
    decipher.setAuthTag(Buffer.from(answer.tag ?? '', 'base64url'));
    const key = Buffer.concat([decipher.update(Buffer.from(answer.box ?? '', 'base64url')), decipher.final()]);
    if (!clusterPin(key).equals(t.pin)) throw new Error('pin');
    return { key, pin: shortPin(t.pin) };
  } catch {
    throw new JoinError(`the coordinator at ${base} answered with a key that does not open or does not match the pinned cluster: run the join again`);
  }
}

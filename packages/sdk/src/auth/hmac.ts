/**
 * Proof of the cluster key on every RPC, without sending the key.
 *
 * A caller sends `x-picompute-auth: v1.<ms timestamp>.<nonce>.<mac>`, where
 * mac = HMAC-SHA256(key, "picompute/v1 request\n<method path>\n<ts>\n<nonce>").
 * The server checks the MAC in constant time, that the timestamp is within
 * ±CLOCK_SKEW_MS of its clock, and that it has not seen the nonce in that
 * window: a recorded request can be neither replayed nor reused for another
 * method. The server answers with `x-picompute-proof: <mac>` over the
 * caller's nonce, so the caller knows it reached a holder of the same key
 * (this is how a coordinator tells a stranger's agent from its own).
 *
 * Without TLS the messages themselves are not encrypted or signed: this stops
 * strangers and recorded traffic, not an active man in the middle (use TLS).
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const AUTH_HEADER = 'x-picompute-auth';
export const PROOF_HEADER = 'x-picompute-proof';
/** Pis without a real-time clock may drift before NTP catches up: allow two minutes. */
export const CLOCK_SKEW_MS = 120_000;

function mac(key: Buffer, kind: 'request' | 'proof', method: string, ts: string, nonce: string): string {
  return createHmac('sha256', key).update(`picompute/v1 ${kind}\n${method}\n${ts}\n${nonce}`).digest('base64url');
}

function sameMac(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export function signRequest(key: Buffer, method: string, now = Date.now()): { header: string; nonce: string } {
  const ts = String(now);
  const nonce = randomBytes(16).toString('base64url');
  return { header: `v1.${ts}.${nonce}.${mac(key, 'request', method, ts, nonce)}`, nonce };
}

export function proofFor(key: Buffer, method: string, nonce: string): string {
  return mac(key, 'proof', method, '', nonce);
}

export function checkProof(key: Buffer, method: string, nonce: string, proof: string | undefined): boolean {
  return typeof proof === 'string' && sameMac(proof, proofFor(key, method, nonce));
}

/**
 * Nonces seen within the clock window. Bounded: when full of live nonces it
 * refuses new requests (the server stays up) instead of growing.
 */
export class ReplayGuard {
  readonly #seen = new Map<string, number>();

  constructor(
    readonly windowMs = CLOCK_SKEW_MS,
    readonly capacity = 100_000,
  ) {}

  /** False if the nonce was seen (a replay) or there is no room left. */
  admit(nonce: string, now: number): 'ok' | 'replay' | 'full' {
    if (this.#seen.has(nonce)) return 'replay';
    // Map keeps insertion order, oldest first: drop what has expired.
    for (const [n, expires] of this.#seen) {
      if (expires > now) break;
      this.#seen.delete(n);
    }
    if (this.#seen.size >= this.capacity) return 'full';
    this.#seen.set(nonce, now + 2 * this.windowMs);
    return 'ok';
  }
}

/**
 * A replay guard per connection (grpc-js names a peer by address and port,
 * so one per TCP connection): a key holder that floods fills only its own
 * and is refused alone, while every other client is served. Replays across
 * connections need no guard: only key holders can open one (cluster-tls.ts).
 */
export class PeerReplayGuards {
  readonly #guards = new Map<string, { guard: ReplayGuard; usedAt: number }>();
  #sweptAt = 0;

  constructor(
    readonly windowMs = CLOCK_SKEW_MS,
    readonly perPeer = 20_000,
  ) {}

  get peers(): number {
    return this.#guards.size;
  }

  for(peer: string, now = Date.now()): ReplayGuard {
    if (now - this.#sweptAt > this.windowMs) this.#sweep(now);
    let entry = this.#guards.get(peer);
    if (!entry) {
      entry = { guard: new ReplayGuard(this.windowMs, this.perPeer), usedAt: now };
      this.#guards.set(peer, entry);
    }
    entry.usedAt = now;
    return entry.guard;
  }

  #sweep(now: number): void {
    this.#sweptAt = now;
    for (const [peer, entry] of this.#guards) if (now - entry.usedAt > 2 * this.windowMs) this.#guards.delete(peer);
  }
}

export type Verdict = { ok: true; nonce: string } | { ok: false; reason: string };

export function verifyRequest(key: Buffer, method: string, header: string | undefined, guard: ReplayGuard, now = Date.now()): Verdict {
  if (!header) return { ok: false, reason: 'no cluster key presented: this server requires the cluster key (see `picompute init`)' };
  const parts = header.split('.');
  if (parts.length !== 4 || parts[0] !== 'v1' || !/^\d{1,16}$/.test(parts[1]!)) return { ok: false, reason: 'malformed cluster key proof' };
  const [, ts, nonce, given] = parts as [string, string, string, string];
  if (!sameMac(given, mac(key, 'request', method, ts, nonce))) return { ok: false, reason: 'wrong cluster key' };
  const skew = now - Number(ts);
  if (Math.abs(skew) > guard.windowMs) {
    return {
      ok: false,
      reason:
        `request timestamp is ${Math.round(skew / 1000)} s off this node's clock (allowed ±${guard.windowMs / 1000} s): check the clocks ` +
        '(timedatectl), or it is a recorded request',
    };
  }
  const admitted = guard.admit(nonce, now);
  if (admitted === 'replay') return { ok: false, reason: 'replayed request refused (its nonce was seen before)' };
  if (admitted === 'full') {
    return {
      ok: false,
      reason:
        `too many requests on this connection (over ${guard.capacity} in ${(2 * guard.windowMs) / 1000} s); slow down, or spread the calls ` +
        'over more connections',
    };
  }
  return { ok: true, nonce };
}

/**
 * Who may look at the dashboard: a holder of the cluster key. The key never
 * travels: `picompute dashboard` signs a short-lived login token (an expiry
 * time and its HMAC), the dashboard checks it and sets an HttpOnly session
 * cookie (signed the same way, with its own expiry); changes (cancel, drain,
 * resume) also need a CSRF token derived from the session. Every MAC uses a
 * key derived from the cluster key for this purpose alone, so nothing signed
 * here is valid anywhere else, and a cookie of another cluster is refused.
 */
import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';

/** A login URL is good for this long by default… */
export const LOGIN_TOKEN_MS = 10 * 60_000;
/** …and never longer, whatever a token says (a leaked one must expire). */
export const MAX_LOGIN_TOKEN_MS = 24 * 3_600_000;
/** A browser session lasts this long. */
export const SESSION_MS = 12 * 3_600_000;
export const SESSION_COOKIE = 'picompute_session';

export class DashboardAuth {
  readonly #key: Buffer;

  constructor(clusterKey: Buffer) {
    this.#key = Buffer.from(hkdfSync('sha256', clusterKey, Buffer.alloc(0), 'picompute dashboard v1', 32));
  }

  #mac(purpose: string, text: string): string {
    return createHmac('sha256', this.#key).update(`${purpose}\n${text}`).digest('base64url');
  }

  /** `EXPIRY.MAC`: what `picompute dashboard` puts in the login URL and `picompute trace` in its Authorization header. */
  loginToken(expiresAtMs = Date.now() + LOGIN_TOKEN_MS): string {
    const exp = String(Math.floor(expiresAtMs));
    return `${exp}.${this.#mac('login', exp)}`;
  }

  /** Why a login token is refused, or undefined when it is good now. */
  checkLogin(token: string, now = Date.now()): string | undefined {
    const m = /^(\d{1,15})\.([\w-]{43})$/.exec(token);
    if (!m) return 'the login token is malformed';
    if (!same(m[2]!, this.#mac('login', m[1]!))) return "the login token was not made with this cluster's key";
    const exp = Number(m[1]);
    if (exp <= now) return 'the login token has expired';
    if (exp - now > MAX_LOGIN_TOKEN_MS) return `the login token claims to be valid for more than ${MAX_LOGIN_TOKEN_MS / 3_600_000} h`;
    return undefined;
  }

  /** A fresh session cookie value: `EXPIRY.NONCE.MAC`. */
  newSession(now = Date.now()): string {
    const body = `${now + SESSION_MS}.${randomBytes(12).toString('base64url')}`;
    return `${body}.${this.#mac('session', body)}`;
  }

  checkSession(value: string | undefined, now = Date.now()): boolean {
    const m = value && /^((\d{1,15})\.[\w-]{16})\.([\w-]{43})$/.exec(value);
    return Boolean(m && same(m[3]!, this.#mac('session', m[1]!)) && Number(m[2]) > now);
  }

  /** The CSRF token of a session: a page that holds it was served to that session. */
  csrf(session: string): string {
    return this.#mac('csrf', session);
  }

  checkCsrf(session: string, token: string | undefined): boolean {
    return typeof token === 'string' && same(token, this.csrf(session));
  }
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The value of one cookie in a Cookie header. */
export function cookie(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

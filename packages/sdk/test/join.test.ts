/**
 * The join token and key exchange (src/auth/join.ts) over real HTTP on
 * loopback: a token's uses and expiry, tokens of another cluster, and a
 * coordinator desk that a relayed or replayed request cannot fool.
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JoinDesk, JoinError, clusterPin, fetchClusterKey, makeJoinToken, parseJoinToken } from '../src/auth/join.js';

const KEY = randomBytes(32);

/** A desk behind a small HTTP server, as the coordinator's dashboard port serves it. */
function serve(desk: JoinDesk): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      try {
        const out = url.pathname === '/join/hello' ? desk.hello(url.searchParams.get('nonce')) : desk.exchange(JSON.parse(body));
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(out));
      } catch (err) {
        res.writeHead((err as JoinError).status ?? 500).end((err as Error).message);
      }
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server })));
}

const counts = () => {
  const used = new Map<string, number>();
  return { count: (id: string) => used.get(id) ?? 0, add: (id: string) => void used.set(id, (used.get(id) ?? 0) + 1) };
};

describe('join token and exchange', () => {
  let url: string;
  let server: Server;
  beforeAll(async () => ({ url, server } = await serve(new JoinDesk(KEY, counts()))));
  afterAll(() => server.close());

  it('a token pins the cluster CA and round-trips', () => {
    const t = parseJoinToken(makeJoinToken(KEY, { ttlMs: 3_600_000, uses: 3 }));
    expect(t.pin).toEqual(clusterPin(KEY));
    expect(t.uses).toBe(3);
    expect(t.expires * 1000).toBeGreaterThan(Date.now() + 3_500_000);
  });

  it('a token for 2 nodes hands out the key twice, then refuses', async () => {
    const token = makeJoinToken(KEY, { ttlMs: 3_600_000, uses: 2 });
    expect((await fetchClusterKey(url, token)).key).toEqual(KEY);
    expect((await fetchClusterKey(url, token)).key).toEqual(KEY);
    await expect(fetchClusterKey(url, token)).rejects.toThrow(/this join token was used already \(2 of 2 uses\)/);
  });

  it('an expired token is refused with the time it expired', async () => {
    const token = makeJoinToken(KEY, { ttlMs: 3_600_000, uses: 1, now: Date.now() - 7_200_000 });
    await expect(fetchClusterKey(url, token)).rejects.toThrow(/this join token expired at \d{4}-\d\d-\d\dT/);
  });

  it("another cluster's token stops at the pin, before its secret is used", async () => {
    const token = makeJoinToken(randomBytes(32), { ttlMs: 3_600_000, uses: 1 });
    await expect(fetchClusterKey(url, token)).rejects.toThrow(
      /is not the one this token was made for: its cluster certificate is sha256:[0-9a-f]{16}…, the token pins/,
    );
  });

  it('a malformed token names what a token looks like', () => {
    expect(() => parseJoinToken('K10abc::def')).toThrow(/"K10abc::def" is not a picompute join token \(PC1 and 82 more characters\)/);
  });

  it('an exchange without its hello, or replayed after it, is refused', async () => {
    const desk = new JoinDesk(KEY, counts());
    const hello = desk.hello(randomBytes(16).toString('base64url'));
    const body = {
      pub: hello.pub,
      id: randomBytes(8).toString('base64url'),
      expires: 2_000_000_000,
      uses: 1,
      agent: 'AA',
      proof: randomBytes(32).toString('base64url'),
    };
    expect(() => desk.exchange(body)).toThrow(/its secret does not match/);
    expect(() => desk.exchange({ ...body, pub: randomBytes(44).toString('base64url') })).toThrow(JoinError);
    expect(() => desk.exchange({ ...body, pub: randomBytes(44).toString('base64url') })).toThrow(/expired or was never started/);
  });
});

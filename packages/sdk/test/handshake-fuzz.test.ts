/**
 * Fuzzing the key-derived TLS handshake from the network side: a fixed
 * number of mutated ClientHellos (taken from a real client, then with bytes
 * flipped, cut, repeated or replaced) and random garbage, each on its own TCP
 * connection to a real keyed gRPC server. The property: every one is refused
 * (no request handled), the server keeps serving key holders, and the text
 * we make of handshake errors never throws.
 */
import { createServer, connect as tcpConnect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  bindServer,
  channelCredentials,
  clientChannelOptions,
  clusterTls,
  generateKey,
  handshakeCause,
  notMemberMessage,
  serverInterceptors,
} from '../src/auth/index.js';
import { wireServices } from '../src/wire/index.js';

const CONNECTIONS = 200;

/** A deterministic byte source, so a failing case can be replayed from its index. */
function bytesFor(seed: number, n: number): Buffer {
  const out = Buffer.alloc(n);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

function mutant(hello: Buffer, seed: number): Buffer {
  const noise = bytesFor(seed, 64);
  const at = (noise.readUInt16BE(0) % hello.length) | 0;
  switch (seed % 5) {
    case 0: {
      const b = Buffer.from(hello);
      for (let i = 0; i < 4; i++) b[(at + noise[i + 2]! * 7) % b.length]! ^= 1 << (noise[i + 6]! % 8);
      return b;
    }
    case 1:
      return hello.subarray(0, at);
    case 2:
      return Buffer.concat([hello.subarray(0, at), noise, hello.subarray(at)]);
    case 3:
      return Buffer.concat([hello, hello]);
    default:
      return bytesFor(seed, 16 + (at % 2000));
  }
}

/** The first bytes a real key holder's client sends: its ClientHello. */
async function realClientHello(): Promise<Buffer> {
  const own = clusterTls(generateKey());
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const got = new Promise<Buffer>((resolve) => server.once('connection', (s) => s.once('data', (d: Buffer) => (resolve(d), s.destroy()))));
  const socket = tlsConnect({ port: (server.address() as AddressInfo).port, host: '127.0.0.1', ...own, servername: 'picompute', ALPNProtocols: ['h2'] });
  socket.on('error', () => {});
  const hello = await got;
  server.close();
  return hello;
}

describe('the key-derived TLS handshake under hostile bytes', () => {
  const key = generateKey();
  let server: grpc.Server;
  let port: number;
  let handled = 0;
  const refusals: string[] = [];

  beforeAll(async () => {
    server = new grpc.Server({ interceptors: serverInterceptors({ key }) });
    server.addService(wireServices().CoordinatorService.service, {
      listNodes: (_: unknown, cb: grpc.sendUnaryData<unknown>) => {
        handled++;
        cb(null, { nodes: [] });
      },
    });
    port = await bindServer(server, '127.0.0.1:0', { key }, 'fuzzed', (_peer, _method, reason) => refusals.push(reason));
  });
  afterAll(() => server?.forceShutdown());

  it(`refuses ${CONNECTIONS} mutated handshakes and still serves a key holder`, async () => {
    const hello = await realClientHello();
    for (let seed = 1; seed <= CONNECTIONS; seed++) {
      await new Promise<void>((resolve) => {
        const s = tcpConnect({ port, host: '127.0.0.1' }, () => s.end(mutant(hello, seed)));
        s.on('data', () => {});
        s.on('error', () => resolve());
        s.on('close', () => resolve());
        s.setTimeout(2000, () => s.destroy());
      });
    }
    expect(handled).toBe(0);
    expect(refusals.length).toBeGreaterThan(0);
    const client = new grpc.Client(`127.0.0.1:${port}`, channelCredentials({ key }), clientChannelOptions({ key }));
    const ok = await new Promise<boolean>((resolve) =>
      client.makeUnaryRequest(
        '/picompute.v1.CoordinatorService/ListNodes',
        (b: Buffer) => b,
        (b: Buffer) => b,
        Buffer.alloc(0),
        (err) => resolve(!err),
      ),
    );
    client.close();
    expect(ok).toBe(true);
    expect(handled).toBe(1);
  });

  it('turns any error text into a message without throwing', () => {
    for (let seed = 1; seed <= 2000; seed++) {
      const text = bytesFor(seed, seed % 300).toString('latin1');
      expect(typeof handshakeCause(`No connection established. Last error: ${text}. Resolution note: `)).toBe('string');
      expect(notMemberMessage(text)).toContain('this server is not part of your cluster (it could not prove the cluster key)');
    }
  });
});

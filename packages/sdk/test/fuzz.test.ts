/**
 * Bounded fuzzing of everything that reads bytes or text from the network or
 * the user: the codec, input framing, every protobuf message of the wire
 * contract, the auth header and the key and flag parsers. Inputs are seeded
 * mutations of valid samples (bit flips, truncation, splices, random runs), so
 * a failure can be replayed. Each target runs for PICOMPUTE_FUZZ_MS (default
 * 600 ms); the counts are printed for the record.
 *
 * The property: a decoder either returns or throws an Error; it never
 * crashes the process, hangs, or throws a non-Error.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { ReplayGuard, parseKey, signRequest, verifyRequest } from '../src/auth/index.js';
import { decode, encode } from '../src/codec.js';
import { packFrames, unpackFrames } from '../src/framing.js';
import { parseDuration, parseSize } from '../src/units.js';
import { parseAddress, wireServices } from '../src/wire/index.js';

const BUDGET_MS = Number(process.env.PICOMPUTE_FUZZ_MS ?? 600);
const counts: Record<string, number> = {};

function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 4294967296;
  };
}

function mutate(sample: Buffer, r: () => number): Buffer {
  const b = Buffer.from(sample);
  switch (Math.floor(r() * 5)) {
    case 0: // flip bits
      for (let i = 0, n = 1 + Math.floor(r() * 4); i < n && b.length; i++) b[Math.floor(r() * b.length)]! ^= 1 << Math.floor(r() * 8);
      return b;
    case 1: // truncate
      return b.subarray(0, Math.floor(r() * b.length));
    case 2: // splice random bytes in
      return Buffer.concat([b.subarray(0, Math.floor(r() * b.length)), Buffer.from(Array.from({ length: 1 + Math.floor(r() * 8) }, () => Math.floor(r() * 256))), b.subarray(Math.floor(r() * b.length))]);
    case 3: // set a byte to an extreme
      if (b.length) b[Math.floor(r() * b.length)] = [0x00, 0x7f, 0x80, 0xff][Math.floor(r() * 4)]!;
      return b;
    default: // pure noise
      return Buffer.from(Array.from({ length: Math.floor(r() * 64) }, () => Math.floor(r() * 256)));
  }
}

function fuzz(name: string, samples: Buffer[], target: (input: Buffer) => unknown): void {
  it(`${name} returns or throws an Error on mutated input`, () => {
    const r = rng(name.length * 7919 + 17);
    const deadline = performance.now() + BUDGET_MS;
    let n = 0;
    while (performance.now() < deadline) {
      const input = mutate(samples[n % samples.length]!, r);
      try {
        target(input);
      } catch (err) {
        if (!(err instanceof Error)) throw new Error(`${name} threw a non-Error for ${input.toString('hex')}: ${String(err)}`);
      }
      n++;
    }
    counts[name] = n;
    expect(n).toBeGreaterThan(100);
  });
}

afterAll(() => {
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  console.log(`fuzz: ${total} inputs in all — ${Object.entries(counts).map(([k, v]) => `${k} ${v}`).join(', ')}`);
});

describe('fuzz', () => {
  const values: unknown[] = [0, -0, 'short', 'x'.repeat(300), [1, 'a', null], { a: new Map([[1, new Set([2n])]]), d: new Date(0), f: new Float64Array([1.5]), b: Buffer.from('hi') }];
  fuzz('codec.decode', values.map((v) => encode(v)), (b) => decode(b));
  fuzz('unpackFrames', [packFrames(values.map((v) => encode(v)))], (b) => unpackFrames(b));

  const services = wireServices();
  const samples: Record<string, unknown> = {
    Submit: { name: 'pi', bundleHash: 'a'.repeat(64), inputsHash: 'b'.repeat(64), taskCount: 64, hasReduce: true, args: { n: '5' }, timeLimitMs: 1000, memoryMb: 256, user: 'pi', source: 'job.ts' },
    Work: { msg: 'assign', assign: { job: { jobId: '1', bundleHash: 'c', timeLimitMs: 0, memoryMb: 0, args: { a: 'b' } }, tasks: [{ index: 3, attempt: 1, kind: 'MAP', input: Buffer.from([1, 2, 3]), values: [] }] } },
  };
  for (const [serviceName, service] of [['CoordinatorService', services.CoordinatorService], ['AgentService', services.AgentService]] as const) {
    for (const [method, def] of Object.entries(service.service)) {
      const sample = samples[method] ?? {};
      fuzz(`${serviceName}.${method} request`, [def.requestSerialize(sample), def.requestSerialize({})], (b) => def.requestDeserialize(b));
      fuzz(`${serviceName}.${method} response`, [def.responseSerialize({})], (b) => def.responseDeserialize(b));
    }
  }

  const key = Buffer.alloc(32, 7);
  const guard = new ReplayGuard();
  fuzz('auth header', [Buffer.from(signRequest(key, '/m').header)], (b) => verifyRequest(key, '/m', b.toString('latin1'), guard));
  fuzz('key text', [Buffer.from(`${'ab'.repeat(32)}\n`)], (b) => parseKey(b.toString('latin1'), 'fuzz'));
  fuzz('flags', [Buffer.from('30s'), Buffer.from('512M'), Buffer.from('pi5-1.local:7700'), Buffer.from('[::1]:1')], (b) => {
    const text = b.toString('latin1');
    for (const parse of [parseDuration, parseSize, parseAddress]) {
      try {
        parse(text);
      } catch (err) {
        if (!(err instanceof RangeError)) throw err;
      }
    }
  });
});

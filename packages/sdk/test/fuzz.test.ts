/**
 * Bounded fuzzing of everything that reads bytes or text from the network or
 * the user: the codec, input framing, every protobuf message of the wire
 * contract, the auth header and the key and flag parsers. Inputs are seeded
 * mutations of valid samples (bit flips, truncation, splices, random runs), so
 * a failure can be replayed. Each target gets the same number of inputs on
 * every machine (PICOMPUTE_FUZZ_INPUTS, default 3000), so a run here checks
 * what a run anywhere checks; how fast that goes is not this test's business.
 * Every RPC's request and response is seeded with a real message
 * (wire-samples.ts); a method without seeds fails the test.
 *
 * The property: a decoder either returns or throws an Error; it never
 * crashes the process, hangs, or throws a non-Error.
 */
import { describe, expect, it } from 'vitest';
import { ReplayGuard, parseKey, signRequest, verifyRequest } from '../src/auth/index.js';
import { decode, encode } from '../src/codec.js';
import { packFrames, unpackFrames } from '../src/framing.js';
import { parseDuration, parseSize } from '../src/units.js';
import { parseAddress, wireServices } from '../src/wire/index.js';
import { REQUESTS, RESPONSES } from './wire-samples.js';

const INPUTS = Number(process.env.PICOMPUTE_FUZZ_INPUTS ?? 3000);

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
      return Buffer.concat([
        b.subarray(0, Math.floor(r() * b.length)),
        Buffer.from(Array.from({ length: 1 + Math.floor(r() * 8) }, () => Math.floor(r() * 256))),
        b.subarray(Math.floor(r() * b.length)),
      ]);
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
    for (let n = 0; n < INPUTS; n++) {
      const input = mutate(samples[n % samples.length]!, r);
      try {
        target(input);
      } catch (err) {
        if (!(err instanceof Error)) throw new Error(`${name} threw a non-Error for ${input.toString('hex')}: ${String(err)}`);
      }
    }
  });
}

/** Encodes each seed and checks it decodes back to itself: a seed the encoder silently drops fuzzes nothing. */
function seeds(name: string, values: unknown[] | undefined, serialize: (v: unknown) => Buffer, deserialize: (b: Buffer) => unknown): Buffer[] {
  if (!values?.length) throw new Error(`${name} has no seed in wire-samples.ts: add a real message`);
  return values.map((v) => {
    const bytes = serialize(v);
    // Only a message with no fields (ListNodesRequest, InfoRequest) may encode to nothing.
    expect(bytes.length > 0 || Object.keys(v as object).length === 0, `${name}: a seed encodes to nothing`).toBe(true);
    expect(deserialize(bytes), name).toMatchObject(v as object);
    return bytes;
  });
}

describe('fuzz', () => {
  const values: unknown[] = [
    0,
    -0,
    'short',
    'x'.repeat(300),
    [1, 'a', null],
    { a: new Map([[1, new Set([2n])]]), d: new Date(0), f: new Float64Array([1.5]), b: Buffer.from('hi') },
  ];
  fuzz(
    'codec.decode',
    values.map((v) => encode(v)),
    (b) => decode(b),
  );
  fuzz('unpackFrames', [packFrames(values.map((v) => encode(v)))], (b) => unpackFrames(b));

  const services = wireServices();
  for (const [serviceName, service] of [
    ['CoordinatorService', services.CoordinatorService],
    ['AgentService', services.AgentService],
  ] as const) {
    for (const [method, def] of Object.entries(service.service)) {
      const request = `${serviceName}.${method} request`;
      const response = `${serviceName}.${method} response`;
      fuzz(request, seeds(request, REQUESTS[method], def.requestSerialize, def.requestDeserialize), (b) => def.requestDeserialize(b));
      fuzz(response, seeds(response, RESPONSES[method], def.responseSerialize, def.responseDeserialize), (b) => def.responseDeserialize(b));
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

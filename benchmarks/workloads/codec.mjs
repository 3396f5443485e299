/** The wire codec (node:v8 with a fast path for lone numbers and short strings) against msgpackr. */
import { pack, unpack } from 'msgpackr';
import { decode, encode } from '@picompute/sdk/codec';
import { best } from '../lib/harness.mjs';

export async function run({ quick, repeat, report }) {
  const samples = {
    'a number': [12345, quick ? 20_000 : 200_000],
    '{ seed, points }': [{ seed: 7, points: 2_000_000 }, quick ? 20_000 : 200_000],
    'Map of 2,000 words': [new Map(Array.from({ length: 2000 }, (_, i) => [`word${i}`, i])), quick ? 50 : 500],
  };
  for (const [name, [value, n]] of Object.entries(samples)) {
    const ours = await best(repeat, () => {
      for (let i = 0; i < n; i++) decode(encode(value));
    });
    const mp = await best(repeat, () => {
      for (let i = 0; i < n; i++) unpack(pack(value));
    });
    report.add(`codec ${name}`, 'picompute codec', (n / ours.ms) * 1000, 'round trips/s');
    report.add(`codec ${name}`, 'msgpackr', (n / mp.ms) * 1000, 'round trips/s');
  }
}

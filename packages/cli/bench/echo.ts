/** `picompute bench` helpers: tiny tasks (throughput) and payloads sent and returned (bandwidth). */
import { defineJob } from '@picompute/sdk';

export default defineJob({
  name: 'bench-echo',
  inputs: (args) => Array.from({ length: Number(args.tasks ?? 1000) }, (_, i) => (args.bytes ? Buffer.alloc(Number(args.bytes), i & 0xff) : i)),
  map: (x: number | Buffer) => (typeof x === 'number' ? x : x.length),
});

/** W1: tiny tasks that return their input. */
import { defineJob } from '@picompute/sdk';

export default defineJob({
  name: 'w1-echo',
  inputs: (args) => Array.from({ length: Number(args.tasks ?? 10_000) }, (_, i) => i),
  map: (i: number) => i,
});

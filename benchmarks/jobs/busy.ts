/** Tasks that keep a core busy (no await) for `ms` milliseconds each: work a cancel has to stop. */
import { defineJob } from '@picompute/sdk';

export default defineJob({
  name: 'busy',
  inputs: (args) => Array.from({ length: Number(args.n ?? 4) }, (_, i) => i),
  map: (i: number, ctx) => {
    const until = Date.now() + Number(ctx.args.ms ?? 30_000);
    while (Date.now() < until);
    return i;
  },
});

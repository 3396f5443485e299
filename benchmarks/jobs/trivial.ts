/** W4: one trivial job (one task). */
import { defineJob } from '@picompute/sdk';

export default defineJob({ name: 'w4-trivial', inputs: () => [21], map: (x: number) => x * 2 });

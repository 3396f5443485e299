#!/usr/bin/env node
// The workspace's `picompute`. It exists before the build, so `pnpm install`
// links it without a warning; it runs the built command (dist/bin/).
import { existsSync } from 'node:fs';

const built = new URL('../dist/bin/picompute.mjs', import.meta.url);
if (!existsSync(built)) {
  process.stderr.write('picompute is not built yet: run `pnpm run build` in the repository first\n');
  process.exit(2);
}
await import(built.href);

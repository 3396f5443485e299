// Builds the `picompute` command as a few ES module files (dist/bin/): the
// command's own code with grpc-js, protobufjs, commander and bonjour-service
// inlined, one file per lazily loaded verb. Measured on a 2-core VM: ~50 ms
// less start-up and ~6 MiB less resident memory than loading the ~150 module
// files one by one (benchmarks W4 and W5). Packages with native parts or
// files of their own stay external: better-sqlite3, esbuild, piscina (it
// starts its worker from its own folder), node-forge (only `init --tls`).
import { build } from 'esbuild';
import { rm } from 'node:fs/promises';
import { NODE_ESM_BUNDLE, REQUIRE_BANNER } from './bundle-options.mjs';

const outdir = new URL('./dist/bin/', import.meta.url).pathname;
await rm(outdir, { recursive: true, force: true });
await build({
  entryPoints: { picompute: new URL('./dist/main.js', import.meta.url).pathname },
  outdir,
  ...NODE_ESM_BUNDLE,
  external: ['better-sqlite3', 'esbuild', 'piscina', 'node-forge'],
  banner: { js: REQUIRE_BANNER },
});

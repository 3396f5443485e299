// The esbuild options the `picompute` command is bundled with, for the
// workspace's dist/bin/ (build-bin.mjs) and the release tarball
// (package-release.mjs) alike, so both run the same kind of files.

/**
 * ES module files for Node 20, split one per lazily loaded verb. Whitespace
 * and syntax are minified, names are not: a daemon holds its source text for
 * as long as it runs, and the shorter text is ~2.5 MiB less resident memory
 * for an idle agent (W5), while a stack trace still names its functions.
 */
export const NODE_ESM_BUNDLE = {
  outExtension: { '.js': '.mjs' },
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  legalComments: 'none',
  logLevel: 'warning',
  minifyWhitespace: true,
  minifySyntax: true,
};

/** CommonJS packages inlined into an ES module still call require() for Node's built-ins. */
export const REQUIRE_BANNER = "import { createRequire as __picomputeRequire } from 'node:module'; const require = __picomputeRequire(import.meta.url);";

// `pnpm run package`: the release tarball, dist/picompute-<version>.tgz at
// the repository's root. One tarball for every role (agent, coordinator,
// client verbs): `npm install -g ./picompute-<version>.tgz` puts `picompute`
// on the PATH and it runs on a plain `node` >= 20 with no node_modules.
//
// Everything is bundled by esbuild into package/bin/. The few places that
// find files through node_modules at run time (the task worker, piscina's own
// worker, the dashboard's static files, better-sqlite3's native binding) are
// rewritten to paths inside the package; each rewrite must match exactly
// once, so a change in those sources breaks this build loudly instead of the
// release at run time.
//
// Native code: only the coordinator's better-sqlite3 has any. The binding
// built for this machine goes to package/native/better_sqlite3-<platform>-<arch>.node;
// binaries for other machines (a linux-arm64 one built on a Pi) are taken
// from native/ at the repository's root when present, named the same way
// (see README, "Build a Pi cluster"). A coordinator started on a platform
// without its binary stops with a message saying so; an agent never loads it.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, readdirSync, realpathSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NODE_ESM_BUNDLE, REQUIRE_BANNER } from './bundle-options.mjs';

const cliDir = dirname(fileURLToPath(import.meta.url));
const root = join(cliDir, '..', '..');
const pkg = (name) => join(root, 'packages', name);
const version = /PICOMPUTE_VERSION = '([^']+)'/.exec(readFileSync(join(pkg('sdk'), 'src', 'version.ts'), 'utf8'))[1];
const out = join(root, 'dist');
// Per process, and the tarball renamed into place: test files package at the same time.
const stageRoot = join(out, `stage-${process.pid}`);
const stage = join(stageRoot, 'package');
const requireFrom = (dir) => createRequire(join(dir, 'package.json'));
// Real paths: esbuild hands plugins the files behind pnpm's symlinks.
const sqliteDir = realpathSync(join(pkg('coordinator'), 'node_modules', 'better-sqlite3'));
const piscinaDir = realpathSync(join(pkg('agent'), 'node_modules', 'piscina'));

const ESBUILD_MISSING =
  'picompute submit bundles the job file with esbuild, which this release does not carry (a native binary per platform): ' +
  'submit from a clone of the repository (pnpm install && pnpm run build), or install esbuild beside picompute (npm install -g esbuild)';

/** file (relative to the repository or absolute) → [text, replacement] pairs, each to match exactly once. */
const rewrites = {
  [join(pkg('agent'), 'dist', 'pool.js')]: [["import.meta.resolve('@picompute/agent/worker')", "new URL('./task-worker.mjs', import.meta.url).href"]],
  [join(pkg('sdk'), 'dist', 'user-stack.js')]: [["import.meta.resolve('@picompute/sdk')", 'import.meta.url']],
  [join(pkg('sdk'), 'dist', 'bundle.js')]: [
    ["import.meta.resolve('@picompute/sdk')", 'import.meta.url'],
    ["await import('esbuild')", `await import('esbuild').catch(() => { throw new Error(${JSON.stringify(ESBUILD_MISSING)}); })`],
  ],
  [join(cliDir, 'dist', 'commands', 'bench.js')]: [["import.meta.resolve('@picompute/cli/bench/ep.ts')", "new URL('../bench/ep.ts', import.meta.url).href"]],
  [join(pkg('coordinator'), 'dist', 'dashboard', 'server.js')]: [
    ["dirname(require.resolve('@picompute/coordinator/package.json'))", "fileURLToPath(new URL('../coordinator', import.meta.url))"],
    ["dirname(createRequire(join(own, '..', 'package.json')).resolve('uplot/dist/uPlot.iife.min.js'))", "join(own, '..', 'uplot')"],
    ["import { dirname, join } from 'node:path';", "import { dirname, join } from 'node:path'; import { fileURLToPath } from 'node:url';"],
  ],
  [join(sqliteDir, 'lib', 'database.js')]: [
    [
      "require('bindings')('better_sqlite3.node')",
      // __picomputeBinDir comes from the banner: inlined CommonJS has no import.meta.
      `(() => {
        const file = require('node:path').join(__picomputeBinDir, '..', 'native', 'better_sqlite3-' + process.platform + '-' + process.arch + '.node');
        if (!require('node:fs').existsSync(file)) throw new Error('this picompute release carries no SQLite binding for ' + process.platform + '-' + process.arch +
          ' (the coordinator needs one; the agent does not): build the release with native/better_sqlite3-' + process.platform + '-' + process.arch +
          '.node in place (see README, "Build a Pi cluster"), or run the coordinator on a machine whose binding it carries, or from a clone (pnpm install)');
        return require(file);
      })()`,
    ],
  ],
};

const rewritePlugin = {
  name: 'release-paths',
  setup(b) {
    const seen = new Set();
    b.onLoad({ filter: /\.js$/ }, (args) => {
      const edits = rewrites[args.path];
      if (!edits) return undefined;
      seen.add(args.path);
      let text = readFileSync(args.path, 'utf8');
      for (const [from, to] of edits) {
        const count = text.split(from).length - 1;
        if (count !== 1) throw new Error(`package-release: expected "${from}" once in ${args.path}, found it ${count} times: update package-release.mjs`);
        text = text.replace(from, () => to);
      }
      return { contents: text, loader: 'js' };
    });
    b.onEnd(() => {
      for (const file of Object.keys(rewrites))
        if (!seen.has(file) && !file.endsWith('bundle.js')) throw new Error(`package-release: ${file} was not bundled: update package-release.mjs`);
    });
  },
};

rmSync(stageRoot, { recursive: true, force: true });
mkdirSync(join(stage, 'bin'), { recursive: true });

const banner = [
  REQUIRE_BANNER,
  "import { dirname as __picomputeDirname } from 'node:path';",
  "import { fileURLToPath as __picomputeFileURLToPath } from 'node:url';",
  'const __picomputeBinDir = __picomputeDirname(__picomputeFileURLToPath(import.meta.url));',
  // piscina finds its worker as `${__dirname}/worker.js`: the one built below, in bin/.
  'const __dirname = __picomputeBinDir;',
].join(' ');

await build({
  entryPoints: { picompute: join(cliDir, 'dist', 'main.js'), 'task-worker': join(pkg('agent'), 'dist', 'worker.js') },
  outdir: join(stage, 'bin'),
  ...NODE_ESM_BUNDLE,
  external: ['esbuild', '@napi-rs/nice'],
  plugins: [rewritePlugin],
  banner: { js: banner },
});
// piscina's worker thread entry, CommonJS (the package has no "type", so .js is CommonJS).
await build({
  entryPoints: [join(piscinaDir, 'dist', 'worker.js')],
  outfile: join(stage, 'bin', 'worker.js'),
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  external: ['@napi-rs/nice'],
  legalComments: 'none',
  logLevel: 'warning',
});

// The dashboard's page and uPlot.
cpSync(join(pkg('coordinator'), 'dashboard'), join(stage, 'coordinator', 'dashboard'), { recursive: true });
const uplot = dirname(requireFrom(pkg('coordinator')).resolve('uplot/dist/uPlot.iife.min.js'));
mkdirSync(join(stage, 'coordinator', 'uplot'), { recursive: true });
// The installer a coordinator serves (packages/coordinator/src/install/release.ts finds it here).
copyFileSync(join(pkg('coordinator'), 'install', 'install.sh'), join(stage, 'coordinator', 'install.sh'));
for (const f of ['uPlot.iife.min.js', 'uPlot.min.css']) copyFileSync(join(uplot, f), join(stage, 'coordinator', 'uplot', f));

// SQLite bindings: this machine's, and any prebuilt ones in native/.
mkdirSync(join(stage, 'native'), { recursive: true });
const here = `better_sqlite3-${process.platform}-${process.arch}.node`;
const built = join(sqliteDir, 'build', 'Release', 'better_sqlite3.node');
if (existsSync(built)) copyFileSync(built, join(stage, 'native', here));
else console.warn(`package-release: no better-sqlite3 binding built on this machine (${built}); the release's coordinator will not start here`);
const extra = join(root, 'native');
if (existsSync(extra))
  for (const f of readdirSync(extra)) if (/^better_sqlite3-[a-z0-9]+-[a-z0-9]+\.node$/.test(f)) copyFileSync(join(extra, f), join(stage, 'native', f));

cpSync(join(cliDir, 'bench'), join(stage, 'bench'), { recursive: true });
writeFileSync(
  join(stage, 'package.json'),
  `${JSON.stringify(
    {
      name: 'picompute',
      version,
      description: 'Batch map/reduce jobs on a cluster of small Linux machines (release build: no dependencies)',
      bin: { picompute: 'bin/picompute.mjs' },
      engines: { node: '>=20' },
      os: ['linux', 'darwin'],
      license: JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).license ?? 'UNLICENSED',
    },
    null,
    2,
  )}\n`,
);
writeFileSync(join(stage, 'release.json'), `${JSON.stringify({ version, native: readdirSync(join(stage, 'native')) })}\n`);

// npm's own tarball layout (package/…), made with tar so nothing is fetched.
const tgz = join(out, `picompute-${version}.tgz`);
execFileSync('tar', ['-czf', `${tgz}.${process.pid}`, '--owner=0', '--group=0', '--numeric-owner', '--sort=name', '-C', stageRoot, 'package']);
renameSync(`${tgz}.${process.pid}`, tgz);
rmSync(stageRoot, { recursive: true, force: true });
console.log(tgz);

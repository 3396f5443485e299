/**
 * Turns a user's job file into one self-contained ESM file named by its
 * SHA-256, and loads such a file back as a job.
 *
 * - `@picompute/sdk` always resolves to this SDK's own copy, so a job file in
 *   any folder (no package.json, nothing installed) works; other npm imports
 *   resolve from the job file's folder as Node would.
 * - Node built-ins stay external; CommonJS dependencies get a real `require`.
 * - The source map is inlined with `file://` URLs of the submitting machine,
 *   so a task's stack trace on an agent points at the user's own job.ts.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { statSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Job } from './job.js';
import { jobProblem } from './job.js';
import { JobFileError } from './bundle-errors.js';
import { privateDir } from './private-dir.js';

export { JobFileError } from './bundle-errors.js';
export { UnsafeDirError } from './private-dir.js';

export interface JobBundle {
  /** Absolute path of the job file. */
  entry: string;
  code: Buffer;
  /** sha256 hex of `code`. */
  hash: string;
}

const SDK_ENTRY = fileURLToPath(import.meta.resolve('@picompute/sdk'));
const REQUIRE_SHIM =
  "import { createRequire as __picomputeCreateRequire } from 'node:module';\n" + 'const require = __picomputeCreateRequire(import.meta.url);';

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

interface InputStamp {
  path: string;
  mtimeMs: number;
  size: number;
}

/**
 * Bundles already made are reused while none of their input files changed:
 * in memory (a script that submits in a loop bundles once) and on disk
 * beside the bundle files (a `picompute submit` of an unchanged job skips
 * esbuild, ~50 ms of its start-up).
 */
const made = new Map<string, { inputs: InputStamp[]; bundle: JobBundle }>();

function manifestPath(entry: string): string {
  return join(clientBundleDir(), 'made', `${sha256(Buffer.from(entry))}.json`);
}

async function fromDisk(entry: string): Promise<JobBundle | undefined> {
  try {
    // Only from a folder no one else could have planted a manifest and a bundle in.
    await privateDir(clientBundleDir());
    const m = JSON.parse(await readFile(manifestPath(entry), 'utf8')) as { inputs: InputStamp[]; hash: string };
    if (!unchanged(m.inputs)) return undefined;
    const code = await readFile(join(clientBundleDir(), `${m.hash}.mjs`));
    if (sha256(code) !== m.hash) return undefined;
    const bundle = { entry, code, hash: m.hash };
    made.set(entry, { inputs: m.inputs, bundle });
    return bundle;
  } catch {
    return undefined;
  }
}

async function toDisk(entry: string, inputs: InputStamp[], bundle: JobBundle): Promise<void> {
  try {
    await writeBundleFile(bundle.code, bundle.hash, clientBundleDir());
    await mkdir(join(clientBundleDir(), 'made'), { recursive: true, mode: 0o700 });
    await writeFile(manifestPath(entry), JSON.stringify({ inputs, hash: bundle.hash }), { mode: 0o600 });
  } catch {
    // A cache that cannot be written only costs time.
  }
}

/** Synchronous on purpose: a few stat calls cost less than a thread-pool round trip each (W4). */
function unchanged(inputs: InputStamp[]): boolean {
  return inputs.every((i) => {
    const s = statSync(i.path, { throwIfNoEntry: false });
    return s !== undefined && s.mtimeMs === i.mtimeMs && s.size === i.size;
  });
}

export async function bundleJob(file: string): Promise<JobBundle> {
  const entry = resolve(file);
  const info = statSync(entry, { throwIfNoEntry: false });
  if (!info) throw new JobFileError(`job file not found: ${file} (looked at ${entry})`);
  if (!info.isFile()) throw new JobFileError(`job file is not a file: ${file}`);
  const cached = made.get(entry);
  if (cached && unchanged(cached.inputs)) return cached.bundle;
  const kept = await fromDisk(entry);
  if (kept) return kept;

  // esbuild is loaded here, not at the top, so importing this module stays cheap.
  const esbuild = await import('esbuild');
  let result: import('esbuild').BuildResult<{ write: false; outdir: string; metafile: true }>;
  try {
    result = await esbuild.build({
      entryPoints: [entry],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      write: false,
      outdir: dirname(entry),
      entryNames: '[name].picompute',
      sourcemap: 'external',
      sourcesContent: false,
      metafile: true,
      logLevel: 'silent',
      banner: { js: REQUIRE_SHIM },
      plugins: [
        {
          name: 'picompute-sdk',
          setup(build: import('esbuild').PluginBuild) {
            build.onResolve({ filter: /^@picompute\/sdk$/ }, () => ({ path: SDK_ENTRY }));
          },
        },
      ],
    });
  } catch (err) {
    throw new JobFileError(formatBuildFailure(file, err));
  }
  const js = result.outputFiles.find((f) => f.path.endsWith('.js'));
  const map = result.outputFiles.find((f) => f.path.endsWith('.map'));
  if (!js || !map) throw new JobFileError(`bundling ${file} produced no output`);
  const code = Buffer.from(js.text.replace(/\n\/\/# sourceMappingURL=.*\n?$/, '\n') + inlineSourceMap(map.text, dirname(js.path)));
  const bundle = { entry, code, hash: sha256(code) };
  const inputs = await Promise.all(
    Object.keys(result.metafile.inputs).map(async (p) => {
      const path = resolve(p);
      const s = await stat(path);
      return { path, mtimeMs: s.mtimeMs, size: s.size };
    }),
  );
  made.set(entry, { inputs, bundle });
  await toDisk(entry, inputs, bundle);
  return bundle;
}

function inlineSourceMap(mapText: string, outDir: string): string {
  const map = JSON.parse(mapText) as { sources: string[] };
  map.sources = map.sources.map((s) => pathToFileURL(resolve(outDir, s)).href);
  return `//# sourceMappingURL=data:application/json;base64,${Buffer.from(JSON.stringify(map)).toString('base64')}\n`;
}

interface EsbuildMessage {
  text: string;
  location: { file: string; line: number; column: number; lineText: string } | null;
}

function formatBuildFailure(file: string, err: unknown): string {
  const errors = (err as { errors?: EsbuildMessage[] }).errors;
  if (!errors?.length) return `cannot bundle ${file}: ${(err as Error).message}`;
  const lines = errors.slice(0, 5).map((e) => {
    if (!e.location) return `  ${e.text}`;
    const { file: f, line, column, lineText } = e.location;
    return `  ${f}:${line}:${column + 1}: ${e.text}\n    ${lineText}\n    ${' '.repeat(column)}^`;
  });
  return `cannot bundle ${file}:\n${lines.join('\n')}`;
}

/**
 * Writes a bundle to `dir/<hash>.mjs` (once) and imports it. The file name is
 * the content hash, so Node's module cache never serves a stale version.
 */
export async function importBundle(code: Uint8Array, hash: string, dir: string): Promise<Job> {
  const path = await writeBundleFile(code, hash, dir);
  const mod = (await import(pathToFileURL(path).href)) as { default?: unknown };
  const problem = jobProblem(mod.default);
  if (problem) throw new JobFileError(`not a picompute job: ${problem}`);
  return mod.default as Job;
}

/**
 * Makes `dir/<hash>.mjs` hold exactly `code` and returns its path. `dir` must
 * be ours alone (see ./private-dir.ts), and a file already there is used only
 * if its bytes still hash to its name: a bundle is run from this path.
 */
export async function writeBundleFile(code: Uint8Array, hash: string, dir: string): Promise<string> {
  await privateDir(dir);
  const path = join(dir, `${hash}.mjs`);
  const existing = await readFile(path).catch(() => undefined);
  if (existing && sha256(existing) === hash) return path;
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, code, { mode: 0o600 });
  await rename(tmp, path);
  return path;
}

/**
 * Where a submitting process keeps the bundles it imports to run `inputs()`:
 * under the user's own cache folder, never a shared one like /tmp where
 * another user could create it first.
 */
export function clientBundleDir(): string {
  const base = process.env.XDG_CACHE_HOME || (homedir() ? join(homedir(), '.cache') : join(tmpdir(), `picompute-${process.getuid?.() ?? 'user'}`));
  return join(base, 'picompute', 'client');
}

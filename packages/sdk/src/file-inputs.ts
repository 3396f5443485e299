/**
 * Map inputs cut from files (`input` / `--input`): each named path is a
 * file, a folder (walked recursively, in name order) or a glob (`*`, `?`,
 * `**`); each file is read as a stream and cut into chunks of about
 * `splitSize` bytes that end at a line break (the first one at or past the
 * size; a longer line stays whole), so a record is never split between two
 * maps. `splitSize` 0 makes one chunk per file. A chunk's path is relative to
 * the root it was found under: the folder, the glob's fixed leading part, or
 * the file's own folder.
 */
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import type { FileChunk } from './job.js';

export const DEFAULT_SPLIT_BYTES = 16 * 1024 * 1024;

const UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** A size in bytes: `16M`, `64K`, `1.5G`, a bare number of bytes, or 0. */
export function parseBytes(text: string, what: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*$/i.exec(text);
  if (!m) throw new RangeError(`${what}: "${text}" is not a size; use bytes or a number with K, M or G, like 16M or 0`);
  return Math.round(Number(m[1]) * UNITS[m[2]!.toLowerCase()]!);
}

/** A named input no file was found for: nothing is submitted. */
export class NoInputFilesError extends Error {
  override name = 'NoInputFilesError';
}

interface InputFile {
  path: string;
  /** As the chunk names it. */
  name: string;
}

const MAGIC = /[*?[]/;

function globRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*' && pattern[i + 1] === '*') {
      // `**/` matches any number of folders, none included.
      re += pattern[i + 2] === '/' ? '(?:.*/)?' : '.*';
      i += pattern[i + 2] === '/' ? 2 : 1;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = pattern.indexOf(']', i);
      if (end < 0) re += '\\[';
      else {
        re += `[${pattern.slice(i + 1, end).replace(/^!/, '^')}]`;
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

async function* walk(dir: string): AsyncGenerator<string> {
  const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const path = join(dir, e.name);
    if (e.isDirectory()) yield* walk(path);
    else if (e.isFile()) yield path;
  }
}

/** The files one `--input` names, with their chunk names. */
async function filesOf(given: string, cwd: string): Promise<InputFile[]> {
  const path = resolve(cwd, given);
  if (MAGIC.test(given)) {
    const parts = path.split(sep);
    const fixed = parts.findIndex((p) => MAGIC.test(p));
    const root = parts.slice(0, fixed).join(sep) || sep;
    const re = globRegExp(parts.slice(fixed).join('/'));
    const found: InputFile[] = [];
    const exists = await stat(root).catch(() => undefined);
    if (exists?.isDirectory())
      for await (const f of walk(root)) if (re.test(relative(root, f).split(sep).join('/'))) found.push({ path: f, name: relative(root, f) });
    return found;
  }
  const s = await stat(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw new NoInputFilesError(`input ${given}: ${err.message}`);
  });
  if (!s) return [];
  if (s.isDirectory()) {
    const found: InputFile[] = [];
    for await (const f of walk(path)) found.push({ path: f, name: relative(path, f) });
    return found;
  }
  return [{ path, name: relative(dirname(path), path) || basename(path) }];
}

/** Every file the inputs name, in the order named (a folder's in name order); throws NoInputFilesError for one that names nothing. */
export async function inputFiles(inputs: readonly string[], cwd = process.cwd()): Promise<InputFile[]> {
  const all: InputFile[] = [];
  for (const given of inputs) {
    const files = await filesOf(given, cwd);
    if (files.length === 0) {
      throw new NoInputFilesError(
        `input ${given} names no file (${MAGIC.test(given) ? 'the pattern matched nothing' : 'no such file or folder'}${given === resolve(cwd, given) ? '' : ` under ${cwd}`}); give a file, a folder or a glob such as 'logs/*.txt'`,
      );
    }
    all.push(...files);
  }
  return all;
}

/** How much of a file's start is looked at for a NUL byte (as git and grep tell binary files). */
const BINARY_SNIFF_BYTES = 8000;

/** One file's chunks, read as a stream. Throws NoInputFilesError for a file that looks binary: it has no lines to cut at. */
export async function* fileChunks(file: InputFile, splitBytes: number): AsyncGenerator<FileChunk> {
  let sniffed = 0;
  let parts: Buffer[] = [];
  let size = 0;
  let offset = 0;
  let any = false;
  let searchFrom = 0;
  const stream = createReadStream(file.path, { highWaterMark: Math.min(1024 * 1024, Math.max(64 * 1024, splitBytes || 1024 * 1024)) });
  try {
    for await (const piece of stream as AsyncIterable<Buffer>) {
      if (sniffed < BINARY_SNIFF_BYTES) {
        const nul = piece.subarray(0, BINARY_SNIFF_BYTES - sniffed).indexOf(0);
        if (nul >= 0) {
          throw new NoInputFilesError(
            `input file ${file.path} looks binary (a NUL byte at offset ${sniffed + nul}), and input files are cut into chunks of text at line breaks: give text files, or read binary data in the job's own inputs(args)`,
          );
        }
        sniffed += piece.length;
      }
      parts.push(piece);
      size += piece.length;
      if (splitBytes <= 0 || size < splitBytes) continue;
      let pending = Buffer.concat(parts, size);
      // Cut at the first line break at or past the split size; keep the rest for the next chunk.
      for (let nl = pending.indexOf(10, Math.max(searchFrom, splitBytes - 1)); nl >= 0; nl = pending.indexOf(10, splitBytes - 1)) {
        const data = pending.subarray(0, nl + 1);
        yield { path: file.name, offset, data };
        any = true;
        offset += data.length;
        pending = pending.subarray(nl + 1);
        if (pending.length < splitBytes) break;
      }
      searchFrom = pending.length;
      parts = pending.length ? [pending] : [];
      size = pending.length;
    }
  } catch (err) {
    if (err instanceof NoInputFilesError) throw err;
    throw new NoInputFilesError(`input file ${file.path} cannot be read: ${(err as Error).message}`);
  }
  if (size || !any) yield { path: file.name, offset, data: Buffer.concat(parts, size) };
}

/** The chunks of every file the inputs name, file after file. */
export async function* inputChunks(inputs: readonly string[], splitBytes = DEFAULT_SPLIT_BYTES, cwd = process.cwd()): AsyncGenerator<FileChunk> {
  for (const file of await inputFiles(inputs, cwd)) yield* fileChunks(file, splitBytes);
}

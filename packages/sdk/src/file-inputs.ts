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
import { open, readdir, stat } from 'node:fs/promises';
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
/** Read past a chunk's size to find the line break that ends it (a longer line: as much again, until it ends). */
const READ_PAST = 1024 * 1024;

/**
 * One file's chunks. Each is read straight into a buffer of its own (its
 * size and a little more; what was read past its line break starts the next
 * one), not gathered from a stream's pieces: that copied every byte once
 * more and allocated a piece per MiB, a third of a big submit's time. Throws
 * NoInputFilesError for a file that looks binary: it has no lines to cut at.
 *
 * With `reuse`, every chunk is read into the same buffer (as Hadoop's record
 * readers reuse their objects): a chunk's `data` is good only until the
 * next one is asked for, so a caller that keeps one copies it. Hashing a
 * file that way (prepare.ts) touches no fresh memory per chunk, which on a
 * VM costs as much as the read itself.
 */
export async function* fileChunks(file: InputFile, splitBytes: number, reuse = false): AsyncGenerator<FileChunk> {
  const cannotRead = (err: unknown) => new NoInputFilesError(`input file ${file.path} cannot be read: ${(err as Error).message}`);
  const fh = await open(file.path, 'r').catch((err) => {
    throw cannotRead(err);
  });
  try {
    const whole = splitBytes <= 0;
    let carry: Buffer = Buffer.alloc(0);
    let offset = 0;
    let position = 0;
    let eof = false;
    let any = false;
    let last: Buffer | undefined;
    while (!eof || carry.length || !any) {
      const size = whole ? Math.max(carry.length, (await fh.stat()).size - position) + 1 : Math.max(splitBytes, carry.length) + READ_PAST;
      let buf: Buffer;
      if (reuse && last && last.length >= size) {
        // The carry is the end of this very buffer: moved down to its start.
        buf = last.copyWithin(0, carry.byteOffset - last.byteOffset, carry.byteOffset - last.byteOffset + carry.length);
      } else {
        buf = Buffer.allocUnsafe(size);
        carry.copy(buf);
      }
      let filled = carry.length;
      let cut = -1;
      for (;;) {
        while (!eof && filled < buf.length) {
          const { bytesRead } = await fh.read(buf, filled, buf.length - filled, position).catch((err) => {
            throw cannotRead(err);
          });
          if (position < BINARY_SNIFF_BYTES) sniff(file, buf.subarray(filled, Math.min(filled + bytesRead, BINARY_SNIFF_BYTES - offset)), position);
          if (bytesRead === 0) eof = true;
          filled += bytesRead;
          position += bytesRead;
        }
        // Cut at the first line break at or past the split size; keep the rest for the next chunk.
        cut = whole || filled < splitBytes ? -1 : buf.subarray(0, filled).indexOf(10, splitBytes - 1);
        if (cut >= 0 || eof) break;
        const bigger = Buffer.allocUnsafe(buf.length + READ_PAST);
        buf.copy(bigger, 0, 0, filled);
        buf = bigger;
      }
      last = buf;
      const end = cut >= 0 ? cut + 1 : filled;
      yield { path: file.name, offset, data: buf.subarray(0, end) };
      any = true;
      offset += end;
      carry = buf.subarray(end, filled);
    }
  } finally {
    await fh.close();
  }
}

/** Throws for a NUL byte in `bytes` (read from the file's start at `at`). */
function sniff(file: InputFile, bytes: Buffer, at: number): void {
  const nul = bytes.indexOf(0);
  if (nul < 0) return;
  throw new NoInputFilesError(
    `input file ${file.path} looks binary (a NUL byte at offset ${at + nul}), and input files are cut into chunks of text at line breaks: give text files, or read binary data in the job's own inputs(args)`,
  );
}

/** The chunks of every file the inputs name, file after file. */
export async function* inputChunks(inputs: readonly string[], splitBytes = DEFAULT_SPLIT_BYTES, cwd = process.cwd()): AsyncGenerator<FileChunk> {
  for (const file of await inputFiles(inputs, cwd)) yield* fileChunks(file, splitBytes);
}

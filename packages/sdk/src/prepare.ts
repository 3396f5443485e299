/**
 * Everything a submit does before its first RPC: bundle the job file, load it,
 * run `inputs(args)` and encode them. It loads no gRPC, so a command can bundle
 * while the network stack loads. Throws JobFileError (a user mistake; nothing
 * is submitted) on any problem.
 */
import { userInfo } from 'node:os';
import { bundleJob, clientBundleDir, importBundle, JobFileError, UnsafeDirError } from './bundle.js';
import { encode } from './codec.js';
import { InputCaps } from './input-caps.js';
import { DEFAULT_SPLIT_BYTES, fileChunks, inputFiles, NoInputFilesError, parseBytes } from './file-inputs.js';
import { CHUNK_REF_MIN_BYTES, decodeChunkRef, encodeChunkRef } from './chunk-ref.js';
import type { FileChunk } from './job.js';
import { isFoldJob, isKeyedJob } from './job.js';
import type { Job } from './job.js';
import type { JobArgs } from './job.js';
import { parseTimeLimit } from './time-limit.js';
import { parseSize } from './units.js';
import type * as W from './wire/messages.js';
import { BLOB_CHUNK_BYTES, MAX_VALUE_BYTES } from './wire/options.js';
import { FramePacker } from './framing.js';
import { encodeShared } from './shared.js';
import { mapUserStacks, userStack } from './user-stack.js';

const mib = (bytes: number) => `${(bytes / 1048576).toFixed(1)} MiB`;

export interface SubmitOptions {
  args?: JobArgs;
  /** Per-task wall-clock limit: milliseconds, or text such as "30s", "90" (minutes) or "1:00:00" (see time-limit.ts). */
  timeLimit?: number | string;
  /** Per-task heap limit: MiB, or a size such as "512M". */
  memPerTask?: number | string;
  /** Overrides the job's own `name`. */
  name?: string;
  /** Cores each task holds while it runs (for tasks that use threads of their own); default 1. */
  coresPerTask?: number;
  /** Re-runs of a task that throws before the job fails; default 0. */
  retries?: number;
  /** Higher runs first among the user's own jobs; default 0. */
  priority?: number;
  /** Only nodes with this label (`picompute agent --label`). */
  constraint?: string;
  /** `afterok:ID`: start after job ID completes; cancelled if it does not. */
  dependency?: string;
  /** At most this many of the job's tasks run at once, cluster-wide (Slurm's `--array=…%N`); default no cap. */
  maxRunning?: number;
  /**
   * Whose share of the cluster the job counts against; default the OS user.
   * (A gateway submitting for others sets it; any holder of the cluster key is trusted.)
   */
  user?: string;
  /** Stop the submit when inputs(args) yields more inputs than this; default 10,000,000 (`--max-inputs`). */
  maxInputs?: number;
  /** Stop the submit when the encoded inputs add up to more bytes than this; default 4 GiB (`--max-input-bytes`). */
  maxInputBytes?: number;
  /** Files to cut into map inputs (FileChunk): each a file, a folder (walked recursively) or a glob; relative to `cwd`. */
  input?: string[];
  /** Where relative `input` paths start; default the process's working directory. */
  cwd?: string;
  /** Bytes per input chunk (chunks end at a line break): a number, or text such as "16M"; 0 = one chunk per file. Default 16M. */
  splitSize?: number | string;
  /** A keyed job's reduce partitions, overriding the job's own `partitions`. */
  partitions?: number;
  /** Times a task may be lost with its node before the job ends NODE_FAIL; default 3. */
  maxNodeLosses?: number;
  /** `false`: no backup copies of straggling tasks (see the job's `speculation`); default the job's own, else true. */
  speculation?: boolean;
}

/** A job file bundled, checked and with its inputs encoded: everything before the first RPC. */
export interface PreparedJob {
  request: Omit<W.SubmitRequest, 'bundleHash' | 'inputsHash'>;
  bundle: Buffer;
  bundleHash: string;
  /** The encoded inputs, length-prefixed (see framing.ts) in upload-sized chunks. */
  packedInputs: Buffer[];
  /** Their size in bytes, headers included. */
  packedBytes: number;
  /** The encoded value of the job's `shared(args)`, named by its sha256; absent without `shared`. */
  shared?: { hash: string; bytes: Buffer };
  /**
   * File inputs sent as chunk references (see chunk-ref.ts): where each
   * distinct chunk's bytes are, to be streamed after the submit (each read
   * again from its file and checked against its hash). Empty otherwise.
   */
  chunks: InputChunkSource[];
  /**
   * The values of inputs(args) that encode to CHUNK_REF_MIN_BYTES or more,
   * in input order, each its frame (a view): the client sends them as chunks
   * when the coordinator takes them (see chunk-ref.ts), else inline like the
   * rest. Empty for file inputs.
   */
  bigValues: { index: number; frame: Buffer }[];
}

/** One distinct input chunk: its hash, and where its bytes are (in a file, or `data` for a value of inputs(args)). */
export interface InputChunkSource {
  hash: string;
  file: string;
  offset: number;
  length: number;
  data?: Buffer;
}

/**
 * Chunks hashed at once: each digest runs on libuv's thread pool (WebCrypto
 * copies the bytes when it is called, so the next chunk is read into the
 * same buffer meanwhile). On 2 cores, 1 GiB in 16 MiB chunks: 1.65-1.75 s
 * hashed one after the other on this thread in fresh buffers, 0.89-0.91 s
 * three at a time in one reused buffer; every map waits for it, so it is
 * time the whole cluster stands idle.
 */
const HASHES_AT_ONCE = 3;

/** A chunk's sha256, hex, from the thread pool (chunkHash's, without holding this thread). */
async function chunkDigest(data: Uint8Array): Promise<string> {
  return Buffer.from(await crypto.subtle.digest('SHA-256', data)).toString('hex');
}

/**
 * The map inputs of `input` files, as frames, in order: a chunk under
 * CHUNK_REF_MIN_BYTES is its FileChunk (a copy: the chunks are read into
 * one buffer), a bigger one a reference to its hash (its bytes hashed and
 * dropped: one chunk in memory here at a time, and those being hashed).
 */
async function* fileInputFrames(input: string[], splitBytes: number, cwd: string | undefined, chunks: InputChunkSource[]): AsyncGenerator<FileChunk | Buffer> {
  const seen = new Set<string>();
  /** Chunks read and not yet given: a small one whole, a big one where it is (its file, to read again for the upload) and its hash to come. */
  const ahead: ({ small: FileChunk } | { file: string; path: string; offset: number; length: number; hash: Promise<string> })[] = [];
  // In input order whatever order the digests end in: `chunks` is the upload's order, and the first maps' chunks go first.
  const next = async (): Promise<FileChunk | Buffer> => {
    const item = ahead.shift()!;
    if ('small' in item) return item.small;
    const { file, path, offset, length } = item;
    const hash = await item.hash;
    if (!seen.has(hash)) {
      seen.add(hash);
      chunks.push({ hash, file, offset, length });
    }
    return encodeChunkRef({ hash, path, offset, length });
  };
  for (const file of await inputFiles(input, cwd)) {
    for await (const { path, offset, data } of fileChunks(file, splitBytes, true)) {
      if (data.length < CHUNK_REF_MIN_BYTES) ahead.push({ small: { path, offset, data: Buffer.from(data) } });
      else {
        const hash = chunkDigest(data);
        // Awaited in order by next(); marked handled now, for a generator given up on before it gets there.
        hash.catch(() => {});
        ahead.push({ file: file.path, path, offset, length: data.length, hash });
      }
      while (ahead.length >= HASHES_AT_ONCE) yield await next();
    }
  }
  while (ahead.length) yield await next();
}

/**
 * Bundles the job file, loads it, runs `inputs(args)` and encodes them.
 * Throws JobFileError (a user mistake; nothing is submitted) on any problem.
 */
export async function prepareJob(file: string, options: SubmitOptions = {}): Promise<PreparedJob> {
  const args = { ...options.args };
  const timeLimitMs = typeof options.timeLimit === 'string' ? parseTimeLimit(options.timeLimit, 'timeLimit') : (options.timeLimit ?? 0);
  const memoryMb = typeof options.memPerTask === 'string' ? parseSize(options.memPerTask, 'memPerTask') : (options.memPerTask ?? 0);
  const bundle = await bundleJob(file);
  let job: Job;
  mapUserStacks();
  try {
    job = await importBundle(bundle.code, bundle.hash, clientBundleDir());
  } catch (err) {
    if (err instanceof UnsafeDirError) throw err;
    if (err instanceof JobFileError) throw new JobFileError(`${file} is ${err.message}`);
    throw new JobFileError(`${file} failed while loading: ${userStack(err)}`);
  }
  const keyed = isKeyedJob(job);
  const splitBytes = typeof options.splitSize === 'string' ? parseBytes(options.splitSize, 'splitSize') : (options.splitSize ?? DEFAULT_SPLIT_BYTES);
  if (options.input?.length) {
    // Said before anything is read or sent: a typo in a path should not cost an upload.
    try {
      await inputFiles(options.input, options.cwd);
    } catch (err) {
      if (err instanceof NoInputFilesError) throw new JobFileError(err.message);
      throw err;
    }
  } else if (!job.inputs) {
    throw new JobFileError(
      `${file} has no \`inputs\` function and no input files were given: name some in the \`input\` option (a file, a folder or a glob), or add inputs(args) to the job`,
    );
  }
  const frames = new FramePacker(BLOB_CHUNK_BYTES);
  const chunks: InputChunkSource[] = [];
  const caps = new InputCaps(file, options.maxInputs, options.maxInputBytes);
  const bigValues: PreparedJob['bigValues'] = [];
  try {
    const source = options.input?.length ? fileInputFrames(options.input, splitBytes, options.cwd, chunks) : await job.inputs!(args);
    for await (const input of source) {
      let frame: Buffer;
      if (options.input?.length && Buffer.isBuffer(input)) {
        // A chunk reference: what the cap on input bytes counts is the chunk it names.
        caps.add(decodeChunkRef(input)!.length);
        frames.add(input);
        continue;
      }
      try {
        frame = encode(input);
      } catch (err) {
        throw new JobFileError(`input ${frames.count} from inputs(args) cannot be sent to the agents: ${(err as Error).message}`);
      }
      if (frame.length > MAX_VALUE_BYTES) {
        throw new JobFileError(
          `input ${frames.count} is ${mib(frame.length)} encoded; a task's input must stay under ${mib(MAX_VALUE_BYTES)}: split the work ` +
            'into more, smaller tasks',
        );
      }
      caps.add(frame.length);
      if (frame.length >= CHUNK_REF_MIN_BYTES) bigValues.push({ index: frames.count, frame });
      frames.add(frame);
    }
  } catch (err) {
    if (err instanceof JobFileError) throw err;
    if (err instanceof NoInputFilesError) throw new JobFileError(err.message);
    throw new JobFileError(`${file}: inputs(args) failed: ${userStack(err)}`);
  }
  const shared = await encodeShared(job, args, file);
  return {
    shared,
    request: {
      name: options.name ?? job.name ?? bundle.entry.replace(/^.*\//, '').replace(/\.[cm]?[jt]s$/, ''),
      taskCount: frames.count,
      hasReduce: isFoldJob(job),
      args,
      timeLimitMs,
      memoryMb,
      user: options.user ?? userInfo().username,
      source: file,
      coresPerTask: options.coresPerTask ?? 1,
      retries: options.retries ?? 0,
      priority: options.priority ?? 0,
      constraint: options.constraint ?? '',
      dependency: options.dependency ?? '',
      maxRunning: options.maxRunning ?? 0,
      sharedHash: shared?.hash ?? '',
      keyed,
      partitions: isKeyedJob(job) ? (options.partitions ?? job.partitions ?? 0) : 0,
      maxNodeLosses: options.maxNodeLosses ?? 0,
      chunkInputs: chunks.length > 0,
      noBackups: (options.speculation ?? job.speculation ?? true) === false,
    },
    bundle: bundle.code,
    bundleHash: bundle.hash,
    packedBytes: frames.bytes,
    packedInputs: frames.finish(),
    chunks,
    bigValues,
  };
}

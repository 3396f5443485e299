/**
 * This agent's side of the shuffle, on its main thread: the folder where its
 * map tasks leave sorted runs and its reduces their parts (one folder per
 * job), the FetchRun RPC that hands a run to a reducer on another agent (or a
 * part to the coordinator, which relays it to a client), and, for a reduce task here,
 * getting every run of its partition onto this disk first: read in place
 * when this agent made it, else fetched from the agent that did, at most
 * MAX_FETCHES at once on this agent (Hadoop's reducers copy 5 at a time), a
 * stream written straight to a file so bytes in flight stay a few chunks.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readdir, rm, stat } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { type Readable, Transform } from 'node:stream';
import * as grpc from '@grpc/grpc-js';
import { channelCredentials, clientChannelOptions } from '@picompute/sdk/auth';
import type { Security } from '@picompute/sdk/auth';
import { wireServices } from '@picompute/sdk/wire';
import type { BlobChunk, FetchRunRequest } from '@picompute/sdk/wire';
import { PART_FILE } from './part-file.js';

/** Reducer fetches this agent runs at once, all its reduce tasks together. */
export const MAX_FETCHES = 5;
/** A run or part goes out in chunks this big: fewer, larger messages cost less per byte on every hop. */
const CHUNK_BYTES = 1024 * 1024;
/**
 * A job's part files stay this long after it ended, for `picompute result ID
 * --out` (the coordinator keeps a job's record a week by default, too); then
 * they go, the next time any job here ends.
 */
const PART_KEEP_MS = 7 * 24 * 3600_000;
/** A run that takes longer than this to arrive counts as lost with its peer. */
const FETCH_DEADLINE_MS = 10 * 60_000;

/** What the coordinator sends as a keyed reduce task's input (JSON): where its partition's runs are. */
export interface ReducePlan {
  partition: number;
  sources: { node: string; address: string; runs: string[] }[];
}

/**
 * A reduce task's runs, open: file descriptors the worker thread reads (one
 * process, one fd table), held open so a run removed meanwhile stays readable.
 * A failure names the node whose runs could not be had, or '' when this
 * agent's own disk is the trouble.
 */
export type Resolved = { ok: true; fds: number[]; cleanup: () => Promise<void> } | { ok: false; node: string; message: string; diskFull?: boolean };

const SAFE_NAME = /^[A-Za-z0-9_.-]{1,200}$/;

/** Errors of writing to this agent's own disk. */
const LOCAL_WRITE_ERRORS = new Set(['ENOSPC', 'EDQUOT', 'EROFS', 'EACCES', 'EPERM']);

function checkName(name: string, what: string): string {
  if (!SAFE_NAME.test(name) || name.startsWith('.')) throw new Error(`${what} ${JSON.stringify(name)} is not a name this agent gave out`);
  return name;
}

type FetchStub = grpc.Client & { fetchRun(req: FetchRunRequest, options: grpc.CallOptions): grpc.ClientReadableStream<BlobChunk> };

export class ShuffleRuns {
  readonly #stubs = new Map<string, FetchStub>();
  #active = 0;
  readonly #waiting: (() => void)[] = [];
  #fetchSeq = 0;

  constructor(
    /** This agent's own folder for runs. */
    readonly dir: string,
    readonly nodeId: string,
    private readonly security: Security,
  ) {}

  jobDir(jobId: string): string {
    return join(this.dir, checkName(jobId, 'job id'));
  }

  runPath(jobId: string, runId: string): string {
    return join(this.jobDir(jobId), checkName(runId, 'run id'));
  }

  /** The FetchRun RPC: the run's bytes in chunks, or NOT_FOUND. */
  serve(call: grpc.ServerWritableStream<FetchRunRequest, BlobChunk>): void {
    let chunks: Readable;
    try {
      chunks = this.chunks(call.request.jobId, call.request.runId);
    } catch (err) {
      call.emit('error', { code: grpc.status.INVALID_ARGUMENT, details: (err as Error).message });
      return;
    }
    chunks.on('error', (err: grpc.ServiceError) => call.emit('error', { code: err.code, details: err.details }));
    chunks.pipe(call as unknown as NodeJS.WritableStream);
  }

  /**
   * A run's (or part's) bytes as FetchRun sends them: BlobChunks, then an
   * empty one marked `last`; a file that cannot be read fails the stream
   * with a gRPC status (NOT_FOUND when it is gone). A coordinator in this
   * very process (the embedded cluster) reads a part through it without the
   * RPC. Throws at once for a name this agent never gave out.
   */
  chunks(jobId: string, runId: string): Readable {
    const path = this.runPath(jobId, runId);
    const file = createReadStream(path, { highWaterMark: CHUNK_BYTES });
    const toChunks = new Transform({
      writableObjectMode: false,
      readableObjectMode: true,
      transform: (data: Buffer, _enc, done) => done(null, { hash: '', data, last: false }),
      flush: (done) => done(null, { hash: '', data: Buffer.alloc(0), last: true }),
    });
    file.on('error', (err: NodeJS.ErrnoException) => {
      const details = `run ${runId} of job ${jobId} on ${this.nodeId}: ${err.message}`;
      toChunks.destroy(Object.assign(new Error(details), { code: err.code === 'ENOENT' ? grpc.status.NOT_FOUND : grpc.status.INTERNAL, details }));
    });
    toChunks.on('close', () => file.destroy());
    return file.pipe(toChunks);
  }

  /**
   * The ListRuns RPC: the runs of a job this disk holds whole (a run being
   * written has a temporary name until it is renamed), so a restarted
   * coordinator can trust the maps that left them instead of running them again.
   */
  async listRuns(jobId: string): Promise<string[]> {
    const entries = await readdir(this.jobDir(jobId), { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return [];
      throw err;
    });
    return entries.filter((e) => e.isFile() && !e.name.endsWith('.tmp')).map((e) => e.name);
  }

  /** Gets every run a reduce task needs onto this disk; on a failure, names the node it could not fetch from. */
  async resolve(jobId: string, plan: ReducePlan, signal: AbortSignal): Promise<Resolved> {
    const fetchedDir = join(this.jobDir(jobId), `fetched-${plan.partition}-${++this.#fetchSeq}`);
    const handles: FileHandle[] = [];
    const cleanup = async () => {
      await Promise.all(handles.map((h) => h.close().catch(() => {})));
      await rm(fetchedDir, { recursive: true, force: true });
    };
    const runs: string[] = [];
    const fetches: Promise<void>[] = [];
    let failure: { node: string; message: string; diskFull?: boolean } | undefined;
    let madeDir = false;
    for (const source of plan.sources) {
      for (const runId of source.runs) {
        if (source.node === this.nodeId) {
          runs.push(this.runPath(jobId, runId));
          continue;
        }
        const target = join(fetchedDir, `${runs.length}-${checkName(runId, 'run id')}`);
        runs.push(target);
        if (!madeDir) {
          await mkdir(fetchedDir, { recursive: true, mode: 0o700 });
          madeDir = true;
        }
        fetches.push(
          this.#limited(async () => {
            if (failure || signal.aborted) return;
            try {
              await this.#fetch(source.address, jobId, runId, target, signal);
            } catch (err) {
              const code = (err as NodeJS.ErrnoException).code ?? '';
              // This disk could not take the run: not the peer's fault, so its maps need not run again.
              failure ??= LOCAL_WRITE_ERRORS.has(code)
                ? {
                    node: '',
                    diskFull: code === 'ENOSPC' || code === 'EDQUOT',
                    message: `this agent (${this.nodeId}) cannot store the runs it fetches in ${fetchedDir}: ${(err as Error).message}; free space there, or give the agent another \`cacheDir\``,
                  }
                : { node: source.node, message: `fetching run ${runId} from ${source.node} at ${source.address} failed: ${(err as Error).message}` };
            }
          }),
        );
      }
    }
    await Promise.all(fetches);
    for (const path of failure ? [] : runs) {
      try {
        handles.push(await open(path, 'r'));
      } catch (err) {
        // Gone from this disk (removed, a disk swapped): like a peer's run that cannot be fetched, its map must run again.
        failure = { node: this.nodeId, message: `run ${path} is not on this agent's disk any more: ${(err as Error).message}` };
      }
    }
    if (failure) {
      await cleanup();
      return { ok: false, ...failure };
    }
    return { ok: true, fds: handles.map((h) => h.fd), cleanup };
  }

  /**
   * A job that ended needs its runs no more, only its parts (the client may
   * read them later): the rest of its folder goes, and so do the folders of
   * jobs that ended more than PART_KEEP_MS ago.
   */
  async removeJob(jobId: string): Promise<void> {
    await this.#keepPartsOnly(this.jobDir(jobId));
    await this.#pruneOld();
  }

  /** At the agent's start: every job's runs (its maps run again elsewhere), and old parts, go; recent parts stay. */
  async sweep(): Promise<void> {
    await this.#pruneOld();
    for (const job of await readdir(this.dir).catch(() => [] as string[])) await this.#keepPartsOnly(join(this.dir, job));
  }

  async #keepPartsOnly(dir: string): Promise<void> {
    const names = await readdir(dir).catch(() => [] as string[]);
    if (!names.some((n) => PART_FILE.test(n))) await rm(dir, { recursive: true, force: true }).catch(() => {});
    else await Promise.all(names.filter((n) => !PART_FILE.test(n)).map((n) => rm(join(dir, n), { recursive: true, force: true }).catch(() => {})));
  }

  async #pruneOld(): Promise<void> {
    const old = Date.now() - PART_KEEP_MS;
    for (const other of await readdir(this.dir).catch(() => [] as string[])) {
      const path = join(this.dir, other);
      const s = await stat(path).catch(() => undefined);
      if (s?.isDirectory() && s.mtimeMs < old) await rm(path, { recursive: true, force: true }).catch(() => {});
    }
  }

  close(): void {
    for (const s of this.#stubs.values()) s.close();
    this.#stubs.clear();
  }

  async #limited(work: () => Promise<void>): Promise<void> {
    if (this.#active >= MAX_FETCHES) await new Promise<void>((resolve) => this.#waiting.push(resolve));
    this.#active++;
    try {
      await work();
    } finally {
      this.#active--;
      this.#waiting.shift()?.();
    }
  }

  async #fetch(address: string, jobId: string, runId: string, target: string, signal: AbortSignal): Promise<void> {
    let stub = this.#stubs.get(address);
    if (!stub) {
      const { AgentService } = wireServices();
      stub = new AgentService(address, channelCredentials(this.security), clientChannelOptions(this.security)) as unknown as FetchStub;
      this.#stubs.set(address, stub);
    }
    const call = stub.fetchRun({ jobId, runId }, { deadline: Date.now() + FETCH_DEADLINE_MS });
    const onAbort = () => call.cancel();
    signal.addEventListener('abort', onAbort, { once: true });
    let complete = false;
    try {
      await pipeline(
        call as unknown as Readable,
        new Transform({
          readableObjectMode: false,
          writableObjectMode: true,
          transform: (chunk: BlobChunk, _enc, done) => {
            if (chunk.last) complete = true;
            done(null, chunk.data.length ? chunk.data : undefined);
          },
        }),
        createWriteStream(target, { mode: 0o600 }),
      );
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
    // A peer that died mid-stream may end it without an error: only the last chunk proves the run whole.
    if (!complete) throw new Error('the stream ended before the end of the run');
  }
}

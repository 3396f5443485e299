/**
 * The CoordinatorService gRPC handlers: thin adapters from RPCs to the
 * Cluster and the BlobStore, turning user mistakes into INVALID_ARGUMENT or
 * NOT_FOUND with a message the CLI prints as it is, and a bundle the
 * coordinator lacks into FAILED_PRECONDITION naming it in a trailer (the
 * client uploads it and submits again).
 */
import * as grpc from '@grpc/grpc-js';
import { formatAddress, MissingBlobError, missingBlobStatus, parseAddress } from '@picompute/sdk/wire';
import type * as W from '@picompute/sdk/wire';
import { FINAL_STATES } from '@picompute/sdk/wire';
import type { BlobStore, Receiver } from './blob-store.js';
import { ListJobsReplyEncoder } from './list-jobs-reply.js';
import { UploadQuotaError } from './upload-spill.js';
import { PICOMPUTE_VERSION } from '@picompute/sdk/version';
import { UserError } from './cluster.js';
import type { Cluster } from './cluster.js';
import { DiskFullError, isDiskFull } from './state/disk-space.js';
import type { PartProxy } from './part-proxy.js';

const RESULT_CHUNK_BYTES = 1024 * 1024;
/** About 50 bytes each on the wire: ~500 KB a message, well under the message limit. */
const TASKS_PER_CHUNK = 10_000;
/** Outputs read from the state database per turn when streaming a result. */
const RESULT_PAGE_VALUES = 8192;

/** The gRPC status a client reads for an error of a call (also what an in-process reader of a part gets: see Coordinator.readPart). */
export function statusOf(err: unknown): Partial<grpc.StatusObject> {
  if (err instanceof MissingBlobError) return missingBlobStatus(err);
  if (err instanceof DiskFullError) return { code: grpc.status.RESOURCE_EXHAUSTED, details: err.message };
  if (err instanceof UserError) return { code: err.notFound ? grpc.status.NOT_FOUND : grpc.status.INVALID_ARGUMENT, details: err.message };
  return { code: grpc.status.INTERNAL, details: (err as Error).message };
}

/** Ends a server stream with a status the client reads (grpc-js takes it as an 'error' event). */
function failStream(call: grpc.ServerWritableStream<unknown, unknown>, err: unknown): void {
  call.emit('error', statusOf(err));
}

function unary<Req, Rep>(fn: (req: Req) => Rep) {
  return (call: grpc.ServerUnaryCall<Req, Rep>, callback: grpc.sendUnaryData<Rep>) => {
    try {
      callback(null, fn(call.request));
    } catch (err) {
      callback(statusOf(err), null);
    }
  };
}

/** A job's events onto a server stream, from its current state until it ends or the caller goes away. */
function watchInto(cluster: Cluster, call: grpc.ServerWritableStream<unknown, W.JobEvent>, jobId: string, outputs = false): void {
  let stop = () => {};
  try {
    stop = cluster.watch(
      jobId,
      (ev) => {
        call.write(ev);
        if (FINAL_STATES.has(ev.state)) call.end();
      },
      { outputs },
    );
  } catch (err) {
    failStream(call, err);
    return;
  }
  call.on('cancelled', stop);
  call.on('close', stop);
}

function notWritten(jobId: string, err: Error): Error {
  return new Error(`job ${jobId} was accepted but could not be written to disk (${err.message}); it may not survive a coordinator restart`);
}

/** gRPC metadata naming the user an upload is for (see the SDK's CoordinatorRpc.putBlob). */
export const UPLOAD_USER_HEADER = 'picompute-user';

export interface UploadLimits {
  uploadIdleMs: number;
  maxBlobBytes: number;
  /** Marks the disk full and returns the error a refused upload carries. */
  diskFull: () => Error;
  /** Whether the state database holds a blob (a bundle sent before). */
  storedBlob: (hash: string) => boolean;
  /** Streams keyed jobs' parts from the agents holding them (GetPart). */
  parts?: PartProxy;
  /**
   * Whether big inputs(args) values may come as chunks (HasChunks says so): not when the state is in
   * PostgreSQL, since chunks stay on this coordinator's disk and a standby taking over would lack them.
   */
  valueChunks?: boolean;
}

export function coordinatorService(cluster: Cluster, blobs: BlobStore, coordinatorId: string, limits: UploadLimits): grpc.UntypedServiceImplementation {
  /** A submit whose bundle the coordinator lacks is refused before the cluster takes its inputs, so they are there for the retry. */
  const requireBundle = (req: W.SubmitRequest) => {
    if (blobs.get(req.bundleHash) || limits.storedBlob(req.bundleHash)) return;
    throw new MissingBlobError(req.bundleHash, `job bundle ${req.bundleHash.slice(0, 12)} was not uploaded; upload it with PutBlob first`);
  };
  const listJobsReply = new ListJobsReplyEncoder();
  return {
    submit(call: grpc.ServerUnaryCall<W.SubmitRequest, W.SubmitReply>, callback: grpc.sendUnaryData<W.SubmitReply>) {
      try {
        requireBundle(call.request);
        const job = cluster.submit(call.request);
        // The id goes back once the job is on disk; its tasks start meanwhile.
        job.stored
          .then(() => cluster.synced())
          .then(
            () => callback(null, { jobId: job.id }),
            (err: Error) => callback(statusOf(notWritten(job.id, err)), null),
          );
      } catch (err) {
        callback(statusOf(err), null);
      }
    },
    cancel: unary<W.CancelRequest, W.CancelReply>((req) => ({ state: cluster.cancel(req.jobId).state })),
    // Encoded here (queued jobs' summaries kept encoded, ./list-jobs-reply.ts); the codec sends the bytes as they are.
    listJobs: unary<W.ListJobsRequest, W.ListJobsReply>((req) => listJobsReply.encode(cluster.jobs(req), cluster.shares()) as unknown as W.ListJobsReply),
    listNodes: unary<W.ListNodesRequest, W.ListNodesReply>(() => ({ nodes: cluster.nodes(), coordinatorVersion: PICOMPUTE_VERSION })),
    requeue: unary<W.RequeueRequest, W.JobSummary>((req) => {
      if (!req.failed) throw new UserError('requeue runs again only the tasks that did not succeed: say so with `failed`');
      return cluster.requeueFailed(req.jobId);
    }),
    // A coordinator without a chunk store lacks them all; the client then sends them, and PutBlob says why that fails.
    hasChunks: unary<W.HasChunksRequest, W.HasChunksReply>((req) => ({
      missing: blobs.chunks?.missing(req.hashes) ?? req.hashes,
      takesValues: !!blobs.chunks && !!limits.valueChunks,
    })),
    drain: unary<W.NodeRequest, W.NodeStatus>((req) => cluster.drain(req.node, true)),
    resume: unary<W.NodeRequest, W.NodeStatus>((req) => cluster.drain(req.node, false)),

    getLogs(call: grpc.ServerWritableStream<W.GetLogsRequest, W.LogLine>) {
      try {
        for (const line of cluster.logs(call.request.jobId)) call.write(line);
        call.end();
      } catch (err) {
        failStream(call, err);
      }
    },
    listTasks(call: grpc.ServerWritableStream<W.ListTasksRequest, W.TaskStatusChunk>) {
      try {
        const tasks = cluster.tasks(call.request.jobId);
        for (let at = 0; at < tasks.length || at === 0; at += TASKS_PER_CHUNK) call.write({ tasks: tasks.slice(at, at + TASKS_PER_CHUNK) });
        call.end();
      } catch (err) {
        failStream(call, err);
      }
    },
    register: unary<W.RegisterRequest, W.RegisterReply>((req) => {
      cluster.addAgent(formatAddress(parseAddress(req.address, 'register address')));
      return { coordinatorId };
    }),

    watch(call: grpc.ServerWritableStream<W.WatchRequest, W.JobEvent>) {
      watchInto(cluster, call, call.request.jobId, call.request.outputs);
    },

    submitWatch(call: grpc.ServerWritableStream<W.SubmitRequest, W.JobEvent>) {
      let job: ReturnType<Cluster['submit']>;
      try {
        requireBundle(call.request);
        job = cluster.submit(call.request);
      } catch (err) {
        failStream(call, err);
        return;
      }
      const id = job.id;
      job.stored
        .then(() => cluster.synced())
        .then(
          () => watchInto(cluster, call, id),
          (err: Error) => failStream(call, notWritten(id, err)),
        );
    },

    getResult(call: grpc.ServerWritableStream<W.GetResultRequest, W.ResultChunk>) {
      if (call.request.partial) return partialInto(cluster, call);
      let pages: ReturnType<Cluster['resultPages']>;
      try {
        pages = cluster.resultPages(call.request.jobId);
      } catch (err) {
        return failStream(call, err);
      }
      // A page per turn of the event loop, and none while the stream's buffer is full: heartbeats
      // and other calls go on while a job of a million outputs streams out.
      let first = true;
      const send = () => {
        if (call.cancelled || call.destroyed) return;
        let values: Buffer[];
        try {
          values = pages.page(RESULT_PAGE_VALUES);
        } catch (err) {
          return failStream(call, err);
        }
        if (values.length === 0 && !first) return call.end();
        first = false;
        let ready = true;
        let chunk: Buffer[] = [];
        let size = 0;
        for (const v of values) {
          chunk.push(v);
          size += v.length;
          if (size >= RESULT_CHUNK_BYTES) {
            ready = call.write({ reduced: pages.reduced, keyed: pages.keyed, values: chunk });
            chunk = [];
            size = 0;
          }
        }
        if (chunk.length || values.length === 0) ready = call.write({ reduced: pages.reduced, keyed: pages.keyed, values: chunk });
        if (values.length === 0) return call.end();
        if (ready) setImmediate(send);
        else call.once('drain', send);
      };
      send();
    },

    putBlob(call: grpc.ServerReadableStream<W.BlobChunk, W.PutBlobReply>, callback: grpc.sendUnaryData<W.PutBlobReply>) {
      // Any holder of the cluster key is trusted to say who it is (as SubmitRequest.user); this names whose quota an upload counts against.
      const user = String(call.metadata.get(UPLOAD_USER_HEADER)[0] ?? '') || 'unknown';
      let receiver: Receiver | undefined;
      let hash = '';
      let size = 0;
      let done = false;
      const refuse = (code: grpc.status, details: string) => {
        if (done) return;
        done = true;
        clearTimeout(idle);
        receiver?.abort();
        callback({ code, details }, null);
        call.destroy();
      };
      const refuseError = (err: unknown) => {
        if (isDiskFull(err)) return refuse(grpc.status.RESOURCE_EXHAUSTED, limits.diskFull().message);
        if (err instanceof UploadQuotaError) return refuse(grpc.status.RESOURCE_EXHAUSTED, err.message);
        refuse(grpc.status.INVALID_ARGUMENT, (err as Error).message);
      };
      // An upload that stalls holds resources: drop it.
      const idle = setTimeout(
        () => refuse(grpc.status.DEADLINE_EXCEEDED, `upload sent nothing for ${limits.uploadIdleMs / 1000}s; dropped`),
        limits.uploadIdleMs,
      );
      call.on('data', (chunk: W.BlobChunk) => {
        if (done) return;
        idle.refresh();
        if (chunk.hash && !hash) hash = chunk.hash;
        size += chunk.data.length;
        if (size > limits.maxBlobBytes)
          return refuse(
            grpc.status.RESOURCE_EXHAUSTED,
            `upload is larger than this coordinator's limit of ${limits.maxBlobBytes} bytes: send smaller inputs, or start the coordinator with a larger \`maxBlobBytes\``,
          );
        try {
          receiver ??= blobs.receive(hash, user, refuseError);
          // The disk is slower than the network: hold the sender back rather than buffer.
          if (!receiver.write(chunk.data)) {
            call.pause();
            receiver.onDrain(() => call.resume());
          }
        } catch (err) {
          refuseError(err);
        }
      });
      call.on('error', () => refuse(grpc.status.CANCELLED, 'upload cancelled'));
      call.on('end', () => {
        if (done) return;
        receiver ??= blobs.receive(hash, user, refuseError);
        receiver.finish().then(() => {
          if (done) return;
          done = true;
          clearTimeout(idle);
          callback(null, { hash, size });
        }, refuseError);
      });
    },

    getPart(call: grpc.ServerWritableStream<W.GetPartRequest, W.BlobChunk>) {
      if (!limits.parts) return failStream(call, new Error('this coordinator does not serve parts'));
      limits.parts.serve(call, (err) => failStream(call, err));
    },

    getBlob(call: grpc.ServerWritableStream<W.GetBlobRequest, W.BlobChunk>) {
      const bytes = blobs.get(call.request.hash);
      if (!bytes) return failStream(call, new UserError(`no blob ${call.request.hash}`, true));
      for (let at = 0; at < bytes.length || at === 0; at += RESULT_CHUNK_BYTES) {
        call.write({
          hash: at === 0 ? call.request.hash : '',
          data: bytes.subarray(at, at + RESULT_CHUNK_BYTES),
          last: at + RESULT_CHUNK_BYTES >= bytes.length,
        });
        if (bytes.length === 0) break;
      }
      call.end();
    },
  };
}

/** The outputs a cancelled or failed job did finish, with their indices (`result ID --partial`): in chunks of about a MiB. */
function partialInto(cluster: Cluster, call: grpc.ServerWritableStream<W.GetResultRequest, W.ResultChunk>): void {
  try {
    const { values, indices } = cluster.partialResult(call.request.jobId);
    let from = 0;
    let size = 0;
    const flush = (to: number) => {
      call.write({ reduced: false, keyed: false, values: values.slice(from, to), indices: indices.slice(from, to) });
      from = to;
      size = 0;
    };
    for (let i = 0; i < values.length; i++) if ((size += values[i]!.length) >= RESULT_CHUNK_BYTES) flush(i + 1);
    flush(values.length);
    call.end();
  } catch (err) {
    failStream(call, err);
  }
}

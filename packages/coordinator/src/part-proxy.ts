/**
 * GetPart: a keyed job's part, streamed to the client from the agent whose
 * disk holds it (FetchRun, authenticated with the cluster key like every
 * call), chunk by chunk with backpressure both ways, so a part of any size
 * passes through the coordinator without ever being whole in its memory. The
 * coordinator relays rather than sending clients to agents: a client can
 * always reach the coordinator, not always the agents.
 */
import { PassThrough } from 'node:stream';
import type { Readable } from 'node:stream';
import * as grpc from '@grpc/grpc-js';
import { channelCredentials, clientChannelOptions } from '@picompute/sdk/auth';
import type { Security } from '@picompute/sdk/auth';
import { wireServices } from '@picompute/sdk/wire';
import type { BlobChunk, FetchRunRequest, GetPartRequest } from '@picompute/sdk/wire';
import { statusOf } from './service.js';
import { UserError } from './submit-checks.js';
import type { PartLocation } from './jobs/shuffle-plan.js';

/** A run's chunks from an agent in this very process (the embedded cluster), as its FetchRun would send them. */
export type LocalRunReader = (jobId: string, runId: string) => Readable;

type FetchStub = grpc.Client & { fetchRun(req: FetchRunRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<BlobChunk> };

/** Where a keyed job's partition's part is, from its stored result (throws UserError when there is no such part). */
export type PartLookup = (jobId: string, partition: number) => PartLocation;

/** What the proxy needs of the cluster for a job that still runs (see Cluster.livePart and Cluster.watch). */
export interface LiveParts {
  livePart(id: string, partition: number): { partitions: number; part: PartLocation | undefined } | undefined;
  watch(id: string, watcher: () => void): () => void;
}

export class PartProxy {
  readonly #stubs = new Map<string, FetchStub>();

  constructor(
    private readonly security: Security,
    private readonly lookup: PartLookup,
    private readonly live: LiveParts,
    /** Agents in this process by address: their parts are read without an RPC (nor its two copies of every byte). */
    private readonly local: ReadonlyMap<string, LocalRunReader> = new Map(),
  ) {}

  serve(call: grpc.ServerWritableStream<GetPartRequest, BlobChunk>, fail: (err: unknown) => void): void {
    this.#locate(call).then(
      (where) => where && this.#relay(call, where, fail),
      (err) => fail(err),
    );
  }

  /**
   * GetPart for a client in this very process (the embedded cluster): the
   * same chunks, waits and backpressure as the RPC, without its two copies
   * of every byte; the stream fails with the gRPC status the RPC would end
   * with, and destroying it cancels the read as a client going away does.
   */
  read(jobId: string, partition: number): Readable {
    const out = new PassThrough({ objectMode: true, highWaterMark: 2 });
    const call = Object.assign(out, { request: { jobId, partition }, cancelled: false });
    out.once('close', () => {
      if (out.writableFinished) return;
      call.cancelled = true;
      out.emit('cancelled');
    });
    this.serve(call as unknown as grpc.ServerWritableStream<GetPartRequest, BlobChunk>, (err) => {
      const status = statusOf(err);
      out.destroy(Object.assign(new Error(status.details), status));
    });
    return out;
  }

  /**
   * Where the part is: at once for a job that ended (its stored result), or,
   * for a job still running, as soon as its reduce has finished, so a client
   * writes parts while later ones are still being reduced. Undefined when the
   * client went away meanwhile.
   */
  #locate(call: grpc.ServerWritableStream<GetPartRequest, BlobChunk>): Promise<PartLocation | undefined> {
    const { jobId, partition } = call.request;
    return new Promise((resolve, reject) => {
      let stop: (() => void) | undefined;
      let settled = false;
      const settle = (fn: () => void) => {
        if (settled) return;
        settled = true;
        queueMicrotask(() => stop?.());
        fn();
      };
      const check = () => {
        try {
          const live = this.live.livePart(jobId, partition);
          if (live && partition >= live.partitions) throw new UserError(`job ${jobId} has ${live.partitions} partitions; there is no part ${partition}`, true);
          if (live && !live.part) return;
          const where = live?.part ?? this.lookup(jobId, partition);
          settle(() => resolve(where));
        } catch (err) {
          settle(() => reject(err));
        }
      };
      call.on('cancelled', () => settle(() => resolve(undefined)));
      check();
      if (!settled) {
        // Called at once, then as the job changes (at most every 100 ms), and when it ends.
        stop = this.live.watch(jobId, check);
      }
    });
  }

  #relay(call: grpc.ServerWritableStream<GetPartRequest, BlobChunk>, where: PartLocation, fail: (err: unknown) => void): void {
    const { jobId, partition } = call.request;
    const reader = this.local.get(where.address);
    let fetch: Readable;
    try {
      fetch = reader ? reader(jobId, where.part) : this.#stub(where.address).fetchRun({ jobId, runId: where.part });
    } catch (err) {
      fail(err);
      return;
    }
    let complete = false;
    // The first chunk says where the part is and how big (JSON in `hash`): a client streaming a part before the job ended learns it so.
    let first = true;
    fetch.on('data', (chunk: BlobChunk) => {
      if (first) {
        chunk = { ...chunk, hash: JSON.stringify(where) };
        first = false;
      }
      if (chunk.last) complete = true;
      if (!call.write(chunk)) {
        fetch.pause();
        call.once('drain', () => fetch.resume());
      }
    });
    fetch.on('error', (err: grpc.ServiceError) => {
      if (err.code === grpc.status.CANCELLED && call.cancelled) return;
      const why =
        err.code === grpc.status.UNAVAILABLE
          ? 'that agent does not answer'
          : err.code === grpc.status.NOT_FOUND
            ? 'that agent no longer has it'
            : err.details || err.message;
      fail(
        new UserError(
          `part ${partition} of job ${jobId} (${where.bytes} bytes on ${where.node} at ${where.address}) cannot be read: ${why}. ` +
            `Parts live on the agent that reduced them until a week after the job; if that agent is gone or lost its disk, submit the job again`,
          err.code === grpc.status.NOT_FOUND,
        ),
      );
    });
    fetch.on('end', () => {
      if (complete) call.end();
      else fail(new Error(`part ${partition} of job ${jobId}: ${where.node} ended the stream before the end of the part`));
    });
    call.on('cancelled', () => (reader ? fetch.destroy() : (fetch as grpc.ClientReadableStream<BlobChunk>).cancel()));
  }

  close(): void {
    for (const s of this.#stubs.values()) s.close();
    this.#stubs.clear();
  }

  #stub(address: string): FetchStub {
    let stub = this.#stubs.get(address);
    if (!stub) {
      const { AgentService } = wireServices();
      // A connection of its own, not the agent's Work stream's (grpc-js shares one per address): HTTP/2 flow control is
      // per connection too, and a part the client reads slowly would hold up the agent's heartbeats behind it.
      stub = new AgentService(address, channelCredentials(this.security), {
        ...clientChannelOptions(this.security),
        'grpc.use_local_subchannel_pool': 1,
      }) as unknown as FetchStub;
      this.#stubs.set(address, stub);
    }
    return stub;
  }
}

/** A keyed job's stored result value for one partition, read as a PartLocation. */
export function partLocation(jobId: string, partition: number, values: Buffer[]): PartLocation {
  const value = values[partition];
  if (!value) throw new UserError(`job ${jobId} has ${values.length} partitions; there is no part ${partition}`, true);
  // 0xff: a v8-serialized part, stored whole by a coordinator from before parts lived on agents' disks.
  if (value[0] === 0xff) throw new UserError(`part ${partition} of job ${jobId} is stored in the coordinator itself: read it with GetResult`);
  return JSON.parse(value.toString('utf8')) as PartLocation;
}

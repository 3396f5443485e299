/**
 * Typed promise/iterator wrappers over the generated CoordinatorService stub,
 * and the one place that turns a gRPC status into an error a user can act on.
 */
import type { Readable } from 'node:stream';
import * as grpc from '@grpc/grpc-js';
import { failedHandshake, handshakeCause, notMemberMessage } from '../auth/cluster-tls.js';
import { channelCredentials, clientChannelOptions } from '../auth/security.js';
import type { Security } from '../auth/security.js';
import { BLOB_CHUNK_BYTES, missingBlobOf, wireServices } from '../wire/index.js';
import type * as W from '../wire/messages.js';

export class ConnectError extends Error {
  override name = 'ConnectError';
}

/** The coordinator refused this client's proof of the cluster key, or could not prove its own. */
export class AuthError extends Error {
  override name = 'AuthError';
}

export class RpcError extends Error {
  override name = 'RpcError';
  constructor(
    message: string,
    readonly code: grpc.status,
    /** FAILED_PRECONDITION for want of a blob: its hash (from the `picompute-missing-blob` trailer). */
    readonly missingBlob?: string,
  ) {
    super(message);
  }
}

type Unary<Req, Rep> = (req: Req, cb: (err: grpc.ServiceError | null, rep: Rep) => void) => void;

export function toRpcError(err: grpc.ServiceError | Error, address: string, keySource?: string): Error {
  const code = (err as grpc.ServiceError).code;
  if (code === undefined) return err;
  if (code === grpc.status.UNAUTHENTICATED) {
    const details = (err as grpc.ServiceError).details;
    const mine = keySource
      ? `this client's key is from ${keySource}`
      : 'this client has no cluster key (see `picompute init`; set PICOMPUTE_KEY_FILE or pass `keyFile`)';
    return new AuthError(`the coordinator at ${address} refused the call: ${details}; ${mine}`);
  }
  // grpc-js's own size check; the coordinator's other RESOURCE_EXHAUSTED (a full disk, an upload quota) explain themselves.
  if (code === grpc.status.RESOURCE_EXHAUSTED && /larger than max/.test((err as grpc.ServiceError).details ?? '')) {
    return new RpcError(
      `the coordinator at ${address} refused a message over its size limit (${(err as grpc.ServiceError).details}); send smaller inputs, or start the ` +
        `coordinator with a larger \`maxMessageBytes\``,
      code,
    );
  }
  if (code === grpc.status.UNAVAILABLE && (err as grpc.ServiceError).metadata?.get('picompute-leader').length) {
    // A standby coordinator: its message names the leader.
    return new ConnectError((err as grpc.ServiceError).details);
  }
  if (code === grpc.status.UNAVAILABLE) {
    return new ConnectError(`lost the coordinator at ${address} (${(err as grpc.ServiceError).details}); is it still running?`);
  }
  return new RpcError((err as grpc.ServiceError).details || err.message, code, missingBlobOf(err as grpc.ServiceError));
}

/** A method of grpc-js's generated stub, called with what that method takes. */
type Method = (...args: unknown[]) => unknown;

export class CoordinatorRpc {
  stub: grpc.Client & Record<string, Method>;
  /**
   * Given several coordinators (./leader.ts): finds the leader again after
   * the one in use went away, and moves this connection to it.
   */
  failover?: () => Promise<void>;

  constructor(
    public address: string,
    private readonly security: Security = {},
  ) {
    const { CoordinatorService } = wireServices();
    this.stub = new CoordinatorService(address, channelCredentials(security), clientChannelOptions(security)) as never;
  }

  #error(err: grpc.ServiceError | Error): Error {
    return ((err as grpc.ServiceError).code !== undefined && this.#refusal(err as grpc.ServiceError)) || toRpcError(err, this.address, this.security.keySource);
  }

  /**
   * Fails with a clear message when nothing answers at the address within
   * `timeoutMs`, and at once when something answers but cannot prove the
   * cluster key (nothing of value has been sent to it: the TLS handshake
   * comes first).
   */
  async ready(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const channel = this.stub.getChannel();
    await new Promise<void>((resolve, reject) => {
      let settled = false;
      const settle = (err?: Error) => {
        if (settled) return;
        settled = true;
        if (err) reject(err);
        else resolve();
      };
      this.stub.waitForReady(deadline, (err?: Error) =>
        settle(
          err &&
            new ConnectError(
              `cannot reach a picompute coordinator at ${this.address} within ${timeoutMs / 1000}s; ` +
                'check that `picompute coordinator` runs there and that the port is open; if it uses TLS, pass `tlsCa` (and `tlsCert`/`tlsKey` if it ' +
                'wants a client certificate); ' +
                'or leave out `coordinator` to run on the local embedded cluster',
            ),
        ),
      );
      // A failed connection attempt says why in a call made without waiting (nothing is sent: there is no connection).
      const watch = (state: grpc.connectivityState) => {
        if (settled) return;
        // Closed while connecting (leaderRpc closes the addresses it no longer needs once one leads): watching a shut
        // channel or calling on it throws, inside grpc-js's callback an uncaught exception that ended the client.
        if (channel.getConnectivityState(false) === grpc.connectivityState.SHUTDOWN) {
          settle(new ConnectError(`the connection to ${this.address} was closed before it was ready`));
          return;
        }
        if (state === grpc.connectivityState.TRANSIENT_FAILURE) {
          (this.stub.listNodes as Method).call(this.stub, {}, (err: grpc.ServiceError | null) => {
            const refusal = err && this.#refusal(err);
            if (refusal) settle(refusal);
          });
        }
        // Past the deadline grpc-js calls back at once (on the next tick) with an error: watching again then would
        // loop on next ticks forever, starving the timer of waitForReady that settles this (seen as an out-of-memory abort).
        channel.watchConnectivityState(state, deadline, (err?: Error) => {
          if (!err) watch(channel.getConnectivityState(false));
        });
      };
      watch(channel.getConnectivityState(true));
    });
  }

  /** The error for a connection refused in its TLS handshake, if that is what `err` is. */
  #refusal(err: grpc.ServiceError): Error | undefined {
    if (err.code !== grpc.status.UNAVAILABLE) return undefined;
    if (this.security.tls && failedHandshake(err.details)) {
      return new AuthError(
        `the coordinator at ${this.address} and this client do not accept each other's certificates (${handshakeCause(err.details)}): ` +
          'pass `tlsCa` with the CA that signed the coordinator, and `tlsCert`/`tlsKey` if it wants a client certificate',
      );
    }
    if (this.security.key && !this.security.tls && failedHandshake(err.details)) {
      return new AuthError(
        `the coordinator at ${this.address}: ${notMemberMessage(err.details)}. This client's key is from ${this.security.keySource ?? 'the caller'}. ` +
          'Check the address, and that the coordinator there was started with the same cluster key; if the cluster uses its own certificates (init ' +
          '`tls`), pass `tlsCa`, `tlsCert` and `tlsKey`',
      );
    }
    if (!this.security.key && /Failed to connect \(/.test(err.details)) {
      return new AuthError(
        `the coordinator at ${this.address} does not speak to a client without the cluster key (it closed the connection): ` +
          'this client has no cluster key (see `picompute init`; set PICOMPUTE_KEY_FILE or pass `keyFile`)',
      );
    }
    return undefined;
  }

  unary<Req, Rep>(method: string, req: Req): Promise<Rep> {
    const fn = this.stub[method] as Unary<Req, Rep>;
    return new Promise((resolve, reject) => {
      fn.call(this.stub, req, (err, rep) => (err ? reject(this.#error(err)) : resolve(rep)));
    });
  }

  stream<Req, Rep>(method: string, req: Req): AsyncIterable<Rep> & { cancel(): void } {
    const call = (this.stub[method] as Method).call(this.stub, req) as grpc.ClientReadableStream<Rep>;
    return this.#messages<Rep>(call, () => call.cancel());
  }

  /** For a coordinator in this very process (the embedded cluster): reads parts without GetPart's RPC. */
  inProcessPart?: (jobId: string, partition: number) => Readable;

  /** A keyed job's part as GetPart streams it (in process when the coordinator is). */
  part(jobId: string, partition: number): AsyncIterable<W.BlobChunk> & { cancel(): void } {
    const local = this.inProcessPart?.(jobId, partition);
    return local ? this.#messages<W.BlobChunk>(local, () => local.destroy()) : this.stream('getPart', { jobId, partition });
  }

  /** A server stream's messages; a status it ends with thrown as an error a user can act on (a cancel ends it quietly). */
  #messages<Rep>(call: Readable, cancel: () => void): AsyncIterable<Rep> & { cancel(): void } {
    const toError = (err: grpc.ServiceError) => this.#error(err);
    return {
      cancel,
      async *[Symbol.asyncIterator]() {
        try {
          for await (const msg of call) yield msg as Rep;
        } catch (err) {
          if ((err as grpc.ServiceError).code === grpc.status.CANCELLED) return;
          throw toError(err as grpc.ServiceError);
        }
      },
    };
  }

  /**
   * Uploads a blob: one buffer (cut into chunks here) or chunks made by the
   * caller. A content-addressed name is checked by the coordinator.
   */
  putBlob(name: string, blob: Buffer | Iterable<Buffer>, user = ''): Promise<W.PutBlobReply> {
    // Whose per-user upload quota this counts against on the coordinator.
    const metadata = new grpc.Metadata();
    if (user) metadata.set('picompute-user', user);
    return new Promise((resolve, reject) => {
      const call = (this.stub.putBlob as Method).call(this.stub, metadata, (err: grpc.ServiceError | null, rep: W.PutBlobReply) =>
        err ? reject(this.#error(err)) : resolve(rep),
      ) as grpc.ClientWritableStream<W.BlobChunk>;
      let first = true;
      for (const data of Buffer.isBuffer(blob) ? chunksOf(blob) : blob) {
        call.write({ hash: first ? name : '', data, last: false });
        first = false;
      }
      if (first) call.write({ hash: name, data: Buffer.alloc(0), last: true });
      call.end();
    });
  }

  /**
   * Uploads a blob read as it goes (`pieces` is pulled only as fast as the
   * stream drains), so a large one is never in memory whole.
   */
  putBlobStream(name: string, pieces: AsyncIterable<Buffer>, user = ''): Promise<W.PutBlobReply> {
    const metadata = new grpc.Metadata();
    if (user) metadata.set('picompute-user', user);
    let failed: Error | undefined;
    let call!: grpc.ClientWritableStream<W.BlobChunk>;
    const reply = new Promise<W.PutBlobReply>((resolve, reject) => {
      call = (this.stub.putBlob as Method).call(this.stub, metadata, (err: grpc.ServiceError | null, rep: W.PutBlobReply) => {
        if (err) reject((failed = this.#error(err)));
        else resolve(rep);
      }) as grpc.ClientWritableStream<W.BlobChunk>;
    });
    const send = async () => {
      let first = true;
      for await (const data of pieces) {
        if (failed) return;
        const ready = call.write({ hash: first ? name : '', data, last: false });
        first = false;
        if (!ready) await new Promise<void>((resolve) => call.once('drain', resolve));
      }
      if (first) call.write({ hash: name, data: Buffer.alloc(0), last: true });
      call.end();
    };
    return Promise.all([
      reply,
      send().catch((err) => {
        call.cancel();
        throw err;
      }),
    ]).then(([rep]) => rep);
  }

  close(): void {
    this.stub.close();
  }
}

function* chunksOf(bytes: Buffer): Generator<Buffer> {
  for (let at = 0; at < bytes.length; at += BLOB_CHUNK_BYTES) yield bytes.subarray(at, at + BLOB_CHUNK_BYTES);
}

/**
 * Typed promise/iterator wrappers over the generated CoordinatorService stub,
 * and the one place that turns a gRPC status into an error a user can act on.
 */
import * as grpc from '@grpc/grpc-js';
import { channelCredentials, clientInterceptors } from '../auth/security.js';
import type { Security } from '../auth/security.js';
import { BLOB_CHUNK_BYTES, CHANNEL_OPTIONS, wireServices } from '../wire/index.js';
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
    const mine = keySource ? `this client's key is from ${keySource}` : 'this client has no cluster key (see `picompute init`; set PICOMPUTE_KEY_FILE or pass --key-file)';
    return new AuthError(`the coordinator at ${address} refused the call: ${details}; ${mine}`);
  }
  if (code === grpc.status.UNAVAILABLE) {
    return new ConnectError(`lost the coordinator at ${address} (${(err as grpc.ServiceError).details}); is it still running?`);
  }
  return new RpcError((err as grpc.ServiceError).details || err.message, code);
}

export class CoordinatorRpc {
  readonly stub: grpc.Client & Record<string, Function>;

  constructor(
    readonly address: string,
    private readonly security: Security = {},
  ) {
    const { CoordinatorService } = wireServices();
    this.stub = new CoordinatorService(address, channelCredentials(security), {
      ...CHANNEL_OPTIONS,
      interceptors: clientInterceptors(security, false),
    }) as never;
  }

  #error(err: grpc.ServiceError | Error): Error {
    return toRpcError(err, this.address, this.security.keySource);
  }

  /** Fails with a clear message when nothing answers at the address within `timeoutMs`. */
  async ready(timeoutMs: number): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.stub.waitForReady(Date.now() + timeoutMs, (err?: Error) => {
        if (!err) return resolve();
        reject(
          new ConnectError(
            `cannot reach a picompute coordinator at ${this.address} within ${timeoutMs / 1000}s; ` +
              'check that `picompute coordinator` runs there and that the port is open; if it uses TLS, pass --tls-ca (and --tls-cert/--tls-key if it wants a client certificate); ' +
              'or leave out --coordinator to run on the local embedded cluster',
          ),
        );
      });
    });
  }

  unary<Req, Rep>(method: string, req: Req): Promise<Rep> {
    const fn = this.stub[method] as Unary<Req, Rep>;
    return new Promise((resolve, reject) => {
      fn.call(this.stub, req, (err, rep) => (err ? reject(this.#error(err)) : resolve(rep)));
    });
  }

  stream<Req, Rep>(method: string, req: Req): AsyncIterable<Rep> & { cancel(): void } {
    const call = (this.stub[method] as Function).call(this.stub, req) as grpc.ClientReadableStream<Rep>;
    const toError = (err: grpc.ServiceError) => this.#error(err);
    return {
      cancel: () => call.cancel(),
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
      const call = (this.stub.putBlob as Function).call(this.stub, metadata, (err: grpc.ServiceError | null, rep: W.PutBlobReply) =>
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

  close(): void {
    this.stub.close();
  }
}

function* chunksOf(bytes: Buffer): Generator<Buffer> {
  for (let at = 0; at < bytes.length; at += BLOB_CHUNK_BYTES) yield bytes.subarray(at, at + BLOB_CHUNK_BYTES);
}

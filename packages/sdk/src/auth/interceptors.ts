/**
 * The cluster key on the wire, as gRPC interceptors so no handler or call
 * site can forget it: the server interceptor refuses a call before its
 * message is even read, and the client interceptor signs every call and
 * checks the server's proof.
 */
import * as grpc from '@grpc/grpc-js';
import { AUTH_HEADER, checkProof, PeerReplayGuards, proofFor, PROOF_HEADER, signRequest, verifyRequest } from './hmac.js';

export interface ServerAuthOptions {
  key: Buffer;
  /** Called for each refused call; the daemon logs once per peer. */
  onRefused?: (peer: string, method: string, reason: string) => void;
  guards?: PeerReplayGuards;
}

const header = (md: grpc.Metadata, name: string): string | undefined => {
  const v = md.get(name)[0];
  return typeof v === 'string' ? v : undefined;
};

export function serverAuthInterceptor(options: ServerAuthOptions): grpc.ServerInterceptor {
  const guards = options.guards ?? new PeerReplayGuards();
  return (method, call) => {
    let nonce = '';
    return new grpc.ServerInterceptingCall(call, {
      start(next) {
        next({
          onReceiveMetadata(md, nextMd) {
            const verdict = verifyRequest(options.key, method.path, header(md, AUTH_HEADER), guards.for(call.getPeer()));
            if (!verdict.ok) {
              options.onRefused?.(call.getPeer(), method.path, verdict.reason);
              call.sendStatus({ code: grpc.status.UNAUTHENTICATED, details: verdict.reason });
              return;
            }
            nonce = verdict.nonce;
            nextMd(md);
          },
        });
      },
      sendMetadata(md, next) {
        if (nonce) md.set(PROOF_HEADER, proofFor(options.key, method.path, nonce));
        next(md);
      },
    });
  };
}

export interface ClientAuthOptions {
  key: Buffer;
  /**
   * Refuse servers that send no proof. The coordinator sets it when dialling
   * agents (a stranger's agent must not get tasks); clients leave it off so
   * they still talk to a key-less coordinator on loopback, but a proof that
   * is present and wrong is always refused.
   */
  requireProof: boolean;
}

export function clientAuthInterceptor(options: ClientAuthOptions): grpc.Interceptor {
  return (callOptions, nextCall) => {
    const method = callOptions.method_definition.path;
    let refused: string | undefined;
    const call: grpc.InterceptingCall = new grpc.InterceptingCall(nextCall(callOptions), {
      start(metadata, _listener, next) {
        const { header: auth, nonce } = signRequest(options.key, method);
        metadata.set(AUTH_HEADER, auth);
        next(metadata, {
          onReceiveMetadata(md, nextMd) {
            const proof = header(md, PROOF_HEADER);
            if (proof === undefined ? options.requireProof : !checkProof(options.key, method, nonce, proof)) {
              refused =
                proof === undefined ? 'the server did not prove the cluster key (it runs without one)' : 'wrong cluster key: the server proved a different key';
              call.cancelWithStatus(grpc.status.UNAUTHENTICATED, refused);
              return;
            }
            nextMd(md);
          },
          onReceiveMessage(message, nextMessage) {
            if (!refused) nextMessage(message);
          },
          onReceiveStatus(status, nextStatus) {
            // A status the server sent itself (e.g. its own refusal) says more than ours.
            if (refused && status.code === grpc.status.OK) nextStatus({ ...status, code: grpc.status.UNAUTHENTICATED, details: refused });
            else nextStatus(status);
          },
        });
      },
    });
    return call;
  };
}

/**
 * The CoordinatorService of a coordinator that may not lead yet: until
 * `lead()` hands it the real handlers, every call is answered UNAVAILABLE
 * with "not the leader, try X", which clients given several coordinators
 * (`--coordinator a,b`) take as a cue to move on.
 */
import * as grpc from '@grpc/grpc-js';

type Handler = (...args: unknown[]) => void;

/** Marks the refusal, so a client can tell a standby from a coordinator that is down. */
export const STANDBY_TRAILER = 'picompute-leader';

export function switchableService(definition: grpc.ServiceDefinition) {
  let real: Record<string, Handler> | undefined;
  let answer = { details: 'this coordinator is starting', leader: '' };
  const impl: Record<string, Handler> = {};
  for (const [name, method] of Object.entries(definition)) {
    const original = (method as { originalName?: string }).originalName ?? name;
    const handler: Handler = (...args) => {
      const target = real?.[original] ?? real?.[name];
      if (target) return target(...args);
      const { details, leader } = answer;
      const metadata = new grpc.Metadata();
      metadata.set(STANDBY_TRAILER, leader);
      const status = { code: grpc.status.UNAVAILABLE, details, metadata };
      const [call, callback] = args as [grpc.ServerWritableStream<unknown, unknown>, grpc.sendUnaryData<unknown> | undefined];
      if (typeof callback === 'function') callback(status, null);
      else call.emit('error', status);
    };
    impl[name] = handler;
    impl[original] = handler;
  }
  return {
    impl,
    /** What calls are answered until `lead()`. */
    refuse(details: string, leader: string): void {
      answer = { details, leader };
    },
    lead(handlers: object): void {
      real = handlers as Record<string, Handler>;
    },
  };
}

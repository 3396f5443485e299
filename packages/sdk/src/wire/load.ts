/**
 * Loads the wire contract once per process and hands out typed gRPC
 * constructors. Every package gets its stubs and service definitions here.
 *
 * The source of truth is protos/picompute.proto; the build compiles it to
 * picompute.js (a JSON descriptor), which protobufjs's light build loads without a .proto
 * parser. The method definitions are what @grpc/proto-loader would make with
 * { keepCase: false, longs: Number, enums: String, defaults: true, oneofs: true }
 * (camelCase fields, enums as strings, bytes as Buffer, `msg` naming the set
 * member of a oneof), built here directly: ~45 ms less at every start-up.
 */
import * as grpc from '@grpc/grpc-js';
import descriptor from '@picompute/protos/picompute.js';
import protobuf from 'protobufjs/light.js';
import type { Method, Type } from 'protobufjs';

const TO_OBJECT = { longs: Number, enums: String, defaults: true, oneofs: true } as const;

interface Services {
  CoordinatorService: grpc.ServiceClientConstructor;
  AgentService: grpc.ServiceClientConstructor;
}

let services: Services | undefined;

const lowerFirst = (s: string) => s.charAt(0).toLowerCase() + s.slice(1);

/**
 * A reply a server encoded itself (see `wireEncoder`), sent as it is: the coordinator keeps the encoded
 * summaries of queued jobs, so `queue` of 10,000 of them does not encode them all again.
 */
export class Encoded {
  constructor(readonly bytes: Buffer) {}
}

/** protobufjs's bytes as a Buffer without copying them: grpc-js copies them once more into its frame, and a 60 MiB message copied twice kept the agent from its heartbeats. */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function codec(type: Type) {
  return {
    serialize: (value: object) => (value instanceof Encoded ? value.bytes : asBuffer(type.encode(type.fromObject(value)).finish())),
    deserialize: (bytes: Buffer) => type.toObject(type.decode(bytes), TO_OBJECT),
  };
}

let root: protobuf.Root | undefined;
function wireRoot(): protobuf.Root {
  if (!root) {
    root = protobuf.Root.fromJSON(descriptor);
    root.resolveAll();
  }
  return root;
}

/**
 * A message as the wire would deliver it (defaults filled in, enums as
 * strings, the oneof named), without encoding it: for the in-process Work
 * stream. Buffers are kept, not copied.
 */
export function wireNormalizer<T extends object>(name: 'ToAgent' | 'FromAgent'): (msg: T) => T {
  const type = wireRoot().lookupType(`picompute.v1.${name}`);
  return (msg) => type.toObject(type.fromObject(msg), TO_OBJECT) as T;
}

/** Encodes one message of the contract as the wire would (for a server that keeps encoded parts, see Encoded). */
export function wireEncoder(name: string): (value: object) => Uint8Array {
  const type = wireRoot().lookupType(`picompute.v1.${name}`);
  return (value) => type.encode(type.fromObject(value)).finish();
}

export function wireServices(): Services {
  if (!services) {
    const root = wireRoot();
    const make = (name: string): grpc.ServiceClientConstructor => {
      const service = root.lookupService(`picompute.v1.${name}`);
      const definition: Record<string, grpc.MethodDefinition<object, object>> = {};
      for (const m of Object.values(service.methods) as Method[]) {
        const req = codec(m.resolvedRequestType!);
        const res = codec(m.resolvedResponseType!);
        definition[m.name] = {
          path: `/picompute.v1.${name}/${m.name}`,
          requestStream: Boolean(m.requestStream),
          responseStream: Boolean(m.responseStream),
          requestSerialize: req.serialize,
          requestDeserialize: req.deserialize,
          responseSerialize: res.serialize,
          responseDeserialize: res.deserialize,
          originalName: lowerFirst(m.name),
        } as grpc.MethodDefinition<object, object>;
      }
      return grpc.makeGenericClientConstructor(definition, name);
    };
    services = { CoordinatorService: make('CoordinatorService'), AgentService: make('AgentService') };
  }
  return services;
}

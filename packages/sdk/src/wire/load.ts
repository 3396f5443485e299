/**
 * Loads protos/picompute.proto once per process and hands out typed gRPC
 * constructors. Every package gets its stubs and service definitions here.
 */
import { createRequire } from 'node:module';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

const PROTO_PATH = createRequire(import.meta.url).resolve('@picompute/protos/picompute.proto');

const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: false,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
};

interface Services {
  CoordinatorService: grpc.ServiceClientConstructor;
  AgentService: grpc.ServiceClientConstructor;
}

let services: Services | undefined;

export function wireServices(): Services {
  if (!services) {
    const definition = protoLoader.loadSync(PROTO_PATH, LOADER_OPTIONS);
    const pkg = grpc.loadPackageDefinition(definition) as unknown as { picompute: { v1: Services } };
    services = pkg.picompute.v1;
  }
  return services;
}

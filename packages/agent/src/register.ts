/**
 * Self-registration, for networks where the coordinator can neither find an
 * agent by mDNS nor has it named on its command line: the agent tells the
 * coordinator its address, and asks again whenever no coordinator stream
 * serves it (the coordinator restarted, or was not up yet).
 */
import { createSocket } from 'node:dgram';
import type * as grpc from '@grpc/grpc-js';
import { channelCredentials, clientChannelOptions } from '@picompute/sdk/auth';
import type { Security } from '@picompute/sdk/auth';
import { formatAddress, parseAddress, wireServices } from '@picompute/sdk/wire';
import type { AgentInfo, RegisterReply, RegisterRequest } from '@picompute/sdk/wire';

export interface RegistrationOptions {
  coordinator: string;
  security: Security;
  /** The address to register, or how to make it from the local address of the route to the coordinator. */
  address: string | ((routeAddress: string) => string);
  info: AgentInfo;
  /** True while some coordinator holds a Work stream to this agent. */
  isServed: () => boolean;
  log: (line: string) => void;
  intervalMs?: number;
}

/** The local address the kernel would use to reach `target` (a UDP connect sends nothing), or '' if unknown. */
function routeAddress(target: string): Promise<string> {
  const { host, port } = parseAddress(target);
  return new Promise((resolve) => {
    const sock = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    sock.on('error', () => (sock.close(), resolve('')));
    sock.connect(port, host, () => {
      const local = sock.address().address;
      sock.close();
      resolve(local === '0.0.0.0' || local === '::' ? '' : local);
    });
  });
}

export function startRegistration(options: RegistrationOptions): { stop(): void } {
  const target = formatAddress(parseAddress(options.coordinator, 'coordinator'));
  const { CoordinatorService } = wireServices();
  // The agent tells its address only to a coordinator that proves the key (TLS from the key, then the header proof).
  const stub = new CoordinatorService(target, channelCredentials(options.security), clientChannelOptions(options.security)) as unknown as {
    register(req: RegisterRequest, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, rep: RegisterReply) => void): void;
    close(): void;
  };
  let failures = 0;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  const attempt = async () => {
    if (stopped) return;
    if (options.isServed()) return schedule();
    const address = typeof options.address === 'string' ? options.address : options.address(await routeAddress(target));
    stub.register({ address, info: options.info }, { deadline: Date.now() + 3000 }, (err, rep) => {
      if (err) {
        // Say it once, then quietly keep trying: the coordinator may simply not be up yet.
        if (failures++ === 0) options.log(`cannot register with the coordinator at ${target} (${err.details || err.message}); retrying every few seconds`);
      } else {
        options.log(`registered with the coordinator at ${target} (${rep.coordinatorId})`);
        failures = 0;
      }
      schedule();
    });
  };
  const schedule = () => {
    if (!stopped) timer = setTimeout(() => void attempt(), options.intervalMs ?? 2000);
  };
  void attempt();
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
      stub.close();
    },
  };
}

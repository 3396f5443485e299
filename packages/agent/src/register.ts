/**
 * Self-registration, for networks where the coordinator can neither find an
 * agent by mDNS nor has it named on its command line: the agent tells the
 * coordinator its address, and asks again whenever no coordinator stream
 * serves it (the coordinator restarted, or was not up yet).
 */
import * as grpc from '@grpc/grpc-js';
import { channelCredentials, clientInterceptors } from '@picompute/sdk/auth';
import type { Security } from '@picompute/sdk/auth';
import { CHANNEL_OPTIONS, formatAddress, parseAddress, wireServices } from '@picompute/sdk/wire';
import type { AgentInfo, RegisterReply, RegisterRequest } from '@picompute/sdk/wire';

export interface RegistrationOptions {
  coordinator: string;
  security: Security;
  address: string;
  info: AgentInfo;
  /** True while some coordinator holds a Work stream to this agent. */
  isServed: () => boolean;
  log: (line: string) => void;
  intervalMs?: number;
}

export function startRegistration(options: RegistrationOptions): { stop(): void } {
  const target = formatAddress(parseAddress(options.coordinator, '--coordinator'));
  const { CoordinatorService } = wireServices();
  const stub = new CoordinatorService(target, channelCredentials(options.security), {
    ...CHANNEL_OPTIONS,
    // The agent tells its address only to a coordinator that proves the key.
    interceptors: clientInterceptors(options.security, true),
  }) as unknown as {
    register(req: RegisterRequest, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, rep: RegisterReply) => void): void;
    close(): void;
  };
  let failures = 0;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  const attempt = () => {
    if (stopped) return;
    if (options.isServed()) return schedule();
    stub.register({ address: options.address, info: options.info }, { deadline: Date.now() + 3000 }, (err, rep) => {
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
    if (!stopped) timer = setTimeout(attempt, options.intervalMs ?? 2000);
  };
  attempt();
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
      stub.close();
    },
  };
}

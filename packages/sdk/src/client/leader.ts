/**
 * Several coordinators on one PostgreSQL state (`coordinator: 'a:7700,b:7700'`):
 * one leads and the others stand by, answering every call UNAVAILABLE with the
 * `picompute-leader` trailer naming the leader. The client asks each in turn
 * (and the leader a standby names) until one answers as the leader.
 */
import type * as grpc from '@grpc/grpc-js';
import type { Security } from '../auth/security.js';
import { formatAddress, parseAddress } from '../wire/index.js';
import { ConnectError, CoordinatorRpc } from './rpc.js';

export const LEADER_TRAILER = 'picompute-leader';
/** How long a client waits for a standby to take over (its lease, then loading the state) before giving up. */
const FAILOVER_MS = 60_000;

/** The leader a standby named in its refusal, or undefined if `err` is not a standby's refusal. */
export function standbyHint(err: grpc.ServiceError): string | undefined {
  const value = err.metadata?.get(LEADER_TRAILER)?.[0];
  return value === undefined ? undefined : String(value);
}

function probe(rpc: CoordinatorRpc, timeoutMs: number): Promise<grpc.ServiceError | null> {
  return new Promise((resolve) =>
    (rpc.stub.listNodes as (...a: unknown[]) => void).call(rpc.stub, {}, { deadline: Date.now() + timeoutMs }, (err: grpc.ServiceError | null) => resolve(err)),
  );
}

/**
 * Asks every address at once (a coordinator that is down would otherwise cost
 * its whole connect timeout) and keeps the first that answers as the leader;
 * a leader a standby names but the list lacks is asked too.
 */
export async function leaderRpc(
  addresses: string[],
  security: Security,
  timeoutMs: number,
  /** Where to look again at a failover (mDNS, for coordinators found there); default the same addresses. */
  lookAgain: () => Promise<string[]> = async () => addresses,
): Promise<CoordinatorRpc> {
  const tried = new Map<string, string>();
  const asked = new Set<string>();
  let found: CoordinatorRpc | undefined;
  const open = new Set<CoordinatorRpc>();
  let unreached: Error | undefined;
  const ask = async (given: string): Promise<void> => {
    const address = formatAddress(parseAddress(given, 'coordinator'));
    if (asked.has(address)) return;
    asked.add(address);
    const rpc = new CoordinatorRpc(address, security);
    open.add(rpc);
    try {
      await rpc.ready(timeoutMs);
      const err = found ? null : await probe(rpc, timeoutMs);
      if (!err && !found) {
        found = rpc;
        return;
      }
      if (err) {
        tried.set(address, err.details);
        const hint = standbyHint(err);
        if (hint) await ask(hint);
      }
    } catch (err) {
      tried.set(address, (err as Error).message);
      unreached = err as Error;
    }
    rpc.close();
  };
  // Each settles as soon as its address answers; the first leader ends the wait for the rest.
  await new Promise<void>((resolve) => {
    let pending = addresses.length;
    for (const a of addresses)
      void ask(a).finally(() => {
        if (found || --pending === 0) resolve();
      });
  });
  // The others may still be waiting out their connect timeout, which would keep this process alive.
  for (const rpc of open) if (rpc !== found) rpc.close();
  if (found) {
    const rpc = found;
    rpc.failover = async () => {
      const deadline = Date.now() + FAILOVER_MS;
      for (;;) {
        try {
          const again = await lookAgain();
          if (!again.length) throw new ConnectError('no coordinator answered on the local network (mDNS)');
          const next = await leaderRpc(again, security, timeoutMs, lookAgain);
          rpc.stub.close();
          rpc.stub = next.stub;
          rpc.address = next.address;
          return;
        } catch (err) {
          if (Date.now() > deadline) throw err;
          await new Promise((resolve) => setTimeout(resolve, 500));
        }
      }
    };
    return rpc;
  }
  // One coordinator (found by mDNS) that does not answer: its own error, not talk of standbys.
  if (asked.size === 1 && unreached) throw unreached;
  throw new ConnectError(
    `no coordinator of ${addresses.join(',')} leads: ${[...tried].map(([a, why]) => `${a}: ${why}`).join('; ')}; a standby takes over within its lease (3 s by default): try again`,
  );
}

export interface CoordinatorRole {
  address: string;
  role: 'leader' | 'standby' | 'unreachable';
  /** A standby's answer (naming the leader), or why the address did not answer. */
  detail: string;
}

/** What each coordinator answers (`picompute coordinators`): the leader, the standbys, and those that do not answer. */
export async function coordinatorRoles(addresses: string[], security: Security, timeoutMs: number): Promise<CoordinatorRole[]> {
  const roles = new Map<string, CoordinatorRole>();
  const ask = async (given: string): Promise<void> => {
    const address = formatAddress(parseAddress(given, 'coordinator'));
    if (roles.has(address)) return;
    roles.set(address, { address, role: 'unreachable', detail: '' });
    const rpc = new CoordinatorRpc(address, security);
    try {
      await rpc.ready(timeoutMs);
      const err = await probe(rpc, timeoutMs);
      const hint = err && standbyHint(err);
      if (!err) roles.set(address, { address, role: 'leader', detail: '' });
      else if (hint !== undefined) roles.set(address, { address, role: 'standby', detail: err.details });
      else roles.set(address, { address, role: 'unreachable', detail: err.details });
      // A leader the list lacks is listed too.
      if (hint) await ask(hint);
    } catch (err) {
      roles.set(address, { address, role: 'unreachable', detail: (err as Error).message });
    } finally {
      rpc.close();
    }
  };
  await Promise.all(addresses.map(ask));
  return [...roles.values()];
}

/**
 * mDNS for the coordinator: publish `_picompute-coord._tcp` with its role
 * (a standby over PostgreSQL announces itself as one, and again as the leader
 * when it takes over) so clients need no address, and, once it leads, browse
 * `_picompute._tcp` and dial every agent seen.
 *
 * mDNS is only a hint, because anyone on the LAN can send it: an
 * advertisement makes the coordinator dial an address, and the agent there
 * counts only once it proves the cluster key in the TLS handshake; a goodbye
 * changes nothing, since a spoofed one must not take a live agent away. The
 * agent's gRPC stream alone says whether it is up: a dead node's records live
 * for hours, and an agent that really stops closes its stream.
 */
import { AGENT_SERVICE, COORDINATOR_SERVICE, coordinatorTxt, dialAddress, startMdns } from '@picompute/sdk/mdns';
import type { AnnouncedRole, Mdns } from '@picompute/sdk/mdns';
import type { Cluster } from './cluster.js';

export interface Announcement {
  readonly mdns: Mdns;
  /** Announces this coordinator again, as the leader: clients looking by mDNS prefer it to the standbys. */
  lead(): void;
  /** Says goodbye; a second call waits for the first. */
  close(): Promise<void>;
}

/** Publishes `_picompute-coord._tcp` with this coordinator's role in TXT (`role=leader|standby`). */
export function announceCoordinator(
  me: { id: string; port: number; version: string; advertiseAddress?: string },
  role: AnnouncedRole,
  log: (line: string) => void,
): Announcement {
  const mdns = startMdns(log);
  const record = (as: AnnouncedRole) => ({ name: me.id, type: COORDINATOR_SERVICE, port: me.port, txt: coordinatorTxt(me, as) });
  mdns.publish(record(role));
  let closing: Promise<void> | undefined;
  return {
    mdns,
    lead() {
      log('mDNS: announcing this coordinator as the leader');
      mdns.republish(record('leader'));
    },
    close: () => {
      closing ??= mdns.close();
      return closing;
    },
  };
}

/** Browses `_picompute._tcp` and dials every agent seen: only the leader does, on the instance that announces it. */
export function startDiscovery(cluster: Cluster, announcement: Announcement, log: (line: string) => void): { close(): Promise<void> } {
  const { mdns } = announcement;
  const seen = new Map<string, string>();
  mdns.browse(AGENT_SERVICE, {
    up(service) {
      const address = dialAddress(service);
      if (!address) return log(`mDNS: agent ${service.name} has no address this coordinator can dial`);
      if (seen.get(service.name) === address) return;
      seen.set(service.name, address);
      log(`mDNS: found agent ${service.name} at ${address}`);
      cluster.addAgent(address);
    },
    down(service) {
      if (!seen.delete(service.name)) return;
      // Forgotten here so that the agent's next advertisement is heard again; its link stays until its stream says otherwise.
      log(`mDNS: agent ${service.name} said goodbye (a hint only: its stream decides whether it is gone)`);
    },
  });
  return { close: () => announcement.close() };
}

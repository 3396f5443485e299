/**
 * mDNS for the coordinator: browse `_picompute._tcp` and dial every agent
 * seen, and publish `_picompute-coord._tcp` so clients need no address.
 *
 * mDNS is only a hint, because anyone on the LAN can send it: an
 * advertisement makes the coordinator dial an address, and the agent there
 * counts only once it proves the cluster key in the TLS handshake; a goodbye
 * changes nothing, since a spoofed one must not take a live agent away. The
 * agent's gRPC stream alone says whether it is up: a dead node's records live
 * for hours, and an agent that really stops closes its stream.
 */
import { AGENT_SERVICE, COORDINATOR_SERVICE, dialAddress, startMdns } from '@picompute/sdk/mdns';
import type { Cluster } from './cluster.js';

export function startDiscovery(cluster: Cluster, me: { id: string; port: number; version: string }, log: (line: string) => void): { close(): Promise<void> } {
  const mdns = startMdns(log);
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
  mdns.publish({ name: me.id, type: COORDINATOR_SERVICE, port: me.port, txt: { id: me.id, v: me.version } });
  return { close: () => mdns.close() };
}

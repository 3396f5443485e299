/**
 * mDNS for the coordinator: browse `_picompute._tcp` and dial every agent
 * seen (a goodbye drops it at once), and publish `_picompute-coord._tcp` so
 * clients need no address. Liveness is never taken from mDNS: a dead node's
 * records live for hours, so its gRPC stream decides.
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
      const address = seen.get(service.name);
      if (!address) return;
      seen.delete(service.name);
      log(`mDNS: agent ${service.name} said goodbye`);
      cluster.removeAgent(address, 'it said goodbye');
    },
  });
  mdns.publish({ name: me.id, type: COORDINATOR_SERVICE, port: me.port, txt: { id: me.id, v: me.version } });
  return { close: () => mdns.close() };
}

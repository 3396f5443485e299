/**
 * What picompute puts in mDNS, shared by the agent (publishes), the
 * coordinator (browses agents, publishes itself) and clients (browse for the
 * coordinator). mDNS only finds nodes: whether a node is alive is decided by
 * its gRPC stream, never by these records, which outlive a dead node by hours.
 */
import type { AgentInfo } from '../wire/messages.js';

export const AGENT_SERVICE = 'picompute';
export const COORDINATOR_SERVICE = 'picompute-coord';
/** A DNS TXT string is a length byte and at most 255 bytes; more corrupts the packet. */
export const MAX_TXT_STRING = 255;

export type TxtRecord = Record<string, string>;

export function agentTxt(info: AgentInfo, advertiseAddress?: string): TxtRecord {
  const txt: TxtRecord = {
    id: info.id,
    cores: String(info.cores),
    mem: String(info.memoryMb),
    arch: info.arch,
    node: info.nodeVersion,
    v: info.version,
    labels: info.labels.join(','),
  };
  if (advertiseAddress) txt.addr = advertiseAddress;
  checkTxt(txt);
  return txt;
}

/** Throws the message a user reads when a TXT string would not fit. */
export function checkTxt(txt: TxtRecord): void {
  for (const [k, v] of Object.entries(txt)) {
    const size = Buffer.byteLength(`${k}=${v}`);
    if (size > MAX_TXT_STRING) {
      throw new RangeError(
        `mDNS record "${k}" would be ${size} bytes, over the ${MAX_TXT_STRING}-byte limit of a TXT string; use fewer or shorter ` +
          `${k === 'labels' ? '`labels` values' : 'values'}`,
      );
    }
  }
}

export interface Sighting {
  name: string;
  port: number;
  addresses?: string[];
  referer?: { address: string; family: string };
  txt?: Record<string, unknown>;
}

/**
 * The address to dial for a service seen on the network. A/AAAA records list
 * every interface of the peer (link-local IPv6, docker bridges...), so prefer,
 * in order: the address the peer asked for (`addr` in TXT, its
 * --advertise-address), the address its answer came from (it reached us, so
 * we can reach it), then its first routable IPv4 address.
 */
export function dialAddress(s: Sighting): string | undefined {
  const asked = s.txt?.addr;
  if (typeof asked === 'string' && asked) return asked;
  const from = s.referer;
  if (from && from.family === 'IPv4') return `${from.address}:${s.port}`;
  const v4 = (s.addresses ?? []).find((a) => /^\d+\.\d+\.\d+\.\d+$/.test(a) && !a.startsWith('169.254.') && !a.startsWith('172.17.'));
  if (v4) return `${v4}:${s.port}`;
  const v6 = (s.addresses ?? []).find((a) => a.includes(':') && !a.toLowerCase().startsWith('fe80'));
  return v6 ? `[${v6}]:${s.port}` : undefined;
}

/** What a coordinator says it is: one leads, the others (over one PostgreSQL state) stand by. */
export type AnnouncedRole = 'leader' | 'standby';

export function coordinatorTxt(me: { id: string; version: string; advertiseAddress?: string }, role: AnnouncedRole): TxtRecord {
  const txt: TxtRecord = { id: me.id, v: me.version, role };
  if (me.advertiseAddress) txt.addr = me.advertiseAddress;
  checkTxt(txt);
  return txt;
}

/** A coordinator of an earlier version announces no role: it announced only while it led. */
export function announcedRole(s: Sighting): AnnouncedRole {
  return s.txt?.role === 'standby' ? 'standby' : 'leader';
}

/**
 * The coordinators a client should ask, from the sightings so far (in the
 * order seen), as `a,b,...`: once one announces itself the leader, the
 * leaders first and then the standbys (a client given several asks each and
 * keeps the one that answers as the leader, and follows it when another takes
 * over); while only standbys are seen, undefined until the look is `over`,
 * then the standbys (each names the leader). A standby is never chosen alone
 * while a leader may still answer.
 */
export function pickCoordinators(seen: Sighting[], over: boolean): string | undefined {
  // The latest sighting of an address wins: a standby that took over announces itself again as the leader.
  const roles = new Map<string, AnnouncedRole>();
  for (const s of seen) {
    const address = dialAddress(s);
    if (address) roles.set(address, announcedRole(s));
  }
  const byRole = { leader: [] as string[], standby: [] as string[] };
  for (const [address, role] of roles) byRole[role].push(address);
  if (!byRole.leader.length && (!over || !byRole.standby.length)) return undefined;
  return [...byRole.leader, ...byRole.standby].join(',');
}

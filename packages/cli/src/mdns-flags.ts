/**
 * mDNS is on by default for the daemons and for `submit`'s coordinator
 * search; PICOMPUTE_MDNS=off turns it off everywhere (tests outside their
 * network namespaces use it, so nothing multicasts onto a real LAN).
 */
export function mdnsEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  return !/^(off|0|false|no)$/i.test(env.PICOMPUTE_MDNS ?? '');
}

/** How long `submit` looks for a coordinator: PICOMPUTE_DISCOVERY_MS, default 1 s. */
export function discoverTimeoutMs(env: NodeJS.ProcessEnv = process.env): number {
  const ms = Number(env.PICOMPUTE_DISCOVERY_MS ?? 1000);
  return Number.isFinite(ms) && ms >= 0 ? ms : 1000;
}

/**
 * One bonjour-service instance per process, with the fixes its known weak
 * spots need: it queries once at start (we query again on a backoff, so a
 * late agent is found), a name conflict silently stops a service (we notice
 * and publish again under another name), nothing re-announces after an
 * address change (we watch the interfaces and announce again), and the SRV
 * target is the bare host name (we publish `<host>.local`, which other mDNS
 * stacks such as avahi resolve), and queries and answers leave by one
 * interface only, the one the multicast route names. A coordinator on a
 * gateway host, with the LAN on eth0 and the cluster's own switch on eth1,
 * must ask on eth1 for the agents there (their answers reach it whichever
 * socket asked, since it joins the group on every interface), and be
 * found from both: with two interfaces or more we ask, and once a name is
 * ours answer, on each interface too.
 */
import { hostname, networkInterfaces } from 'node:os';
import bonjourService from 'bonjour-service';
import type { Browser, Service } from 'bonjour-service';
import type { TxtRecord } from './records.js';

export interface Mdns {
  publish(options: { name: string; type: string; port: number; txt: TxtRecord }): void;
  /** Withdraws all this instance published (goodbye packets) and publishes `options` instead: a coordinator's role changed. */
  republish(options: { name: string; type: string; port: number; txt: TxtRecord }): void;
  /** `requeryMs`: when to ask again (the last gap repeats); default a backoff from 1 s to 30 s for a long-lived watcher. */
  browse(type: string, handlers: { up: (s: Service) => void; down?: (s: Service) => void }, requeryMs?: readonly number[]): void;
  close(): Promise<void>;
}

const REQUERY_MS = [1000, 2000, 4000, 8000, 15000, 30000];
/**
 * A one-shot look (the CLI's, within about a second) asks again soon: one
 * lost query or answer on a busy network or host would otherwise leave it
 * empty-handed (RFC 6762 §5.1 lets a one-shot querier retransmit).
 */
const LOOK_REQUERY_MS = [250, 400, 600, 1000, 2000];
const INTERFACE_CHECK_MS = 10_000;
/** Longest a name's probe takes (three queries 250 ms apart, after up to 250 ms), with room to spare. */
const PROBE_MS = 2000;

/** One IPv4 address per interface that is up and not loopback: where a query must go out to reach every network. */
function ipv4Interfaces(): string[] {
  return Object.values(networkInterfaces())
    .map((addrs) => (addrs ?? []).find((a) => a.family === 'IPv4' && !a.internal)?.address)
    .filter((a): a is string => !!a);
}

/**
 * Options for multicast-dns (Bonjour hands them on; its types leave these
 * out): send by this interface and join the group on it only, but bind the
 * wildcard address, since a socket bound to the interface's own address
 * receives no multicast on Linux.
 */
const onInterface = (address: string) => ({ interface: address, bind: '0.0.0.0' }) as unknown as ConstructorParameters<typeof bonjourService.Bonjour>[0];

function addressesNow(): string {
  return Object.values(networkInterfaces())
    .flat()
    .filter((a) => a && !a.internal)
    .map((a) => a!.address)
    .sort()
    .join(',');
}

export function startMdns(log: (line: string) => void): Mdns {
  const { Bonjour } = bonjourService;
  const bonjour = new Bonjour({}, (err: Error) => log(`mDNS error: ${err.message}`));
  const timers = new Set<NodeJS.Timeout>();
  const browsers: Browser[] = [];
  // One instance per interface, when there are several: they ask for what we browse and answer for what we published.
  const askers = new Map<string, InstanceType<typeof Bonjour>>();
  const askersNow = () => {
    const addresses = ipv4Interfaces();
    if (addresses.length < 2) return [];
    for (const address of addresses)
      if (!askers.has(address)) askers.set(address, new Bonjour(onInterface(address), (err: Error) => log(`mDNS error on ${address}: ${err.message}`)));
    return [...askers.values()];
  };
  const published: { options: Parameters<Mdns['publish']>[0]; service: Service }[] = [];
  let closed = false;
  const later = (fn: () => void, ms: number) => {
    const t = setTimeout(() => {
      timers.delete(t);
      if (!closed) fn();
    }, ms);
    t.unref();
    timers.add(t);
  };

  const publishOne = (options: Parameters<Mdns['publish']>[0], attempt = 0) => {
    const name = attempt === 0 ? options.name : `${options.name}-${attempt + 1}`;
    const service = bonjour.publish({ ...options, name, host: `${hostname()}.local`, disableIPv6: false });
    const entry = { options, service };
    published.push(entry);
    // A probe that finds the name taken stops the service without telling anyone.
    later(() => {
      // Withdrawn meanwhile (announced again, or with a new role): nothing to check.
      if (!published.includes(entry)) return;
      if (service.published) {
        // The name is ours: answer on every interface too, without probing again (the copies would find each other).
        for (const a of askersNow()) a.publish({ ...options, name, host: `${hostname()}.local`, disableIPv6: false, probe: false });
        return;
      }
      if (attempt >= 5) return;
      log(`mDNS name ${name} is taken on this network; publishing as ${options.name}-${attempt + 2}`);
      published.splice(published.indexOf(entry), 1);
      publishOne(options, attempt + 1);
    }, 3000);
  };

  let lastAddresses = addressesNow();
  const watchInterfaces = () => {
    const now = addressesNow();
    if (now !== lastAddresses && published.length) {
      lastAddresses = now;
      log('network addresses changed: announcing again');
      const again = published.splice(0).map((p) => p.options);
      for (const a of askers.values()) a.unpublishAll();
      bonjour.unpublishAll(() => {
        for (const o of again) publishOne(o);
      });
    }
    later(watchInterfaces, INTERFACE_CHECK_MS);
  };
  later(watchInterfaces, INTERFACE_CHECK_MS);

  return {
    publish: (options) => publishOne(options),
    republish(options) {
      // A record still being probed registers its answers once the probe ends, even withdrawn: let it finish first.
      const probing = published.filter((p) => !p.service.published).map((p) => p.service);
      published.splice(0);
      const settled = probing.map(
        (service) =>
          new Promise((resolve) => {
            service.once('up', resolve);
            later(() => resolve(undefined), PROBE_MS);
          }),
      );
      void Promise.all(settled).then(() => {
        for (const a of askers.values()) a.unpublishAll();
        bonjour.unpublishAll(() => {
          if (!closed) publishOne(options);
        });
      });
    },
    browse(type, handlers, requeryMs = REQUERY_MS) {
      const mine: Browser[] = [];
      const watched = new Set<InstanceType<typeof Bonjour>>();
      const watch = (instance: InstanceType<typeof Bonjour>) => {
        watched.add(instance);
        const browser = instance.find({ type });
        browser.on('up', handlers.up);
        if (handlers.down) browser.on('down', handlers.down);
        browsers.push(browser);
        mine.push(browser);
      };
      watch(bonjour);
      for (const asker of askersNow()) watch(asker);
      const requery = (i: number) =>
        later(() => {
          // An interface that came up since (a second network) gets its own asker.
          for (const asker of askersNow()) if (!watched.has(asker)) watch(asker);
          for (const b of mine) b.update();
          requery(Math.min(i + 1, requeryMs.length - 1));
        }, requeryMs[i]!);
      requery(0);
    },
    close() {
      closed = true;
      for (const t of timers) clearTimeout(t);
      for (const b of browsers) b.stop();
      // unpublishAll sends the goodbye packets; destroy closes the socket after.
      const done = (b: InstanceType<typeof Bonjour>) => new Promise<void>((resolve) => b.unpublishAll(() => b.destroy(() => resolve())));
      return Promise.all([bonjour, ...askers.values()].map(done)).then(() => {});
    },
  };
}

/**
 * Looks for services of `type` for at most `timeoutMs`: `decide` is asked at
 * every sighting (and once more when time is up, with `over` set) and the
 * look ends with its first answer, or undefined.
 */
export async function lookFor<T>(type: string, timeoutMs: number, decide: (seen: Service[], over: boolean) => T | undefined): Promise<T | undefined> {
  const mdns = startMdns(() => {});
  const seen: Service[] = [];
  try {
    return await new Promise<T | undefined>((resolve) => {
      const timer = setTimeout(() => resolve(decide(seen, true)), timeoutMs);
      mdns.browse(
        type,
        {
          up: (s) => {
            seen.push(s);
            const found = decide(seen, false);
            if (found !== undefined) {
              clearTimeout(timer);
              resolve(found);
            }
          },
        },
        LOOK_REQUERY_MS,
      );
    });
  } finally {
    await mdns.close();
  }
}

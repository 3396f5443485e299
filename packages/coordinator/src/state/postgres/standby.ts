/**
 * Starting a coordinator whose state is in PostgreSQL: bad input (URL,
 * password, schema, rights) is refused before anything listens; then it
 * listens, answering "not the leader, try X" while another coordinator
 * leads, and returns once it leads itself.
 */
import { hostname } from 'node:os';
import type * as grpc from '@grpc/grpc-js';
import { bindServer } from '@picompute/sdk/auth';
import { formatAddress, wireServices } from '@picompute/sdk/wire';
import type { coordinatorOptions } from '../../coordinator-options.js';
import type { switchableService } from '../../standby-service.js';
import { leadOverPostgres } from './lead.js';
import { openPostgres } from './leadership.js';
import type { LeaderRow } from './leadership.js';

type Options = ReturnType<typeof coordinatorOptions> & { stateUrl: string };

/** What clients and standbys should dial: the listening address, unless that is a wildcard. */
function advertised(host: string, port: number, given?: string): string {
  if (given) return given;
  const wildcard = host === '0.0.0.0' || host === '::' || host === '';
  return formatAddress({ host: wildcard ? hostname() : host, port });
}

export async function standBy(
  o: Options,
  id: string,
  server: grpc.Server,
  service: ReturnType<typeof switchableService>,
  refused: Parameters<typeof bindServer>[4],
  /** Called once this coordinator listens, before it leads (it then announces itself as a standby). */
  listening: (port: number) => void = () => {},
) {
  const target = { url: o.stateUrl, passwordFile: o.statePasswordFile };
  const client = await openPostgres(target, 'coordinator');
  server.addService(wireServices().CoordinatorService.service, service.impl);
  let port: number;
  try {
    port = await bindServer(server, formatAddress({ host: o.host, port: o.port }), o.security, 'coordinator', refused);
  } catch (err) {
    await client.end().catch(() => {});
    throw err;
  }
  const address = advertised(o.host, port, o.advertiseAddress);
  listening(port);
  let announced = false;
  const onLeader = (row: LeaderRow) => {
    const who = row.live ? `coordinator ${row.holder} at ${row.address} leads` : `no coordinator leads yet (${row.holder || 'none'} last did)`;
    service.refuse(
      row.live
        ? `coordinator ${id} at ${address} is a standby, not the leader: try ${row.address}, or name both coordinators (${row.address},${address}) so clients follow the leader`
        : `coordinator ${id} at ${address} is a standby and no coordinator leads right now; one takes over within ${o.leaseMs / 1000} s: try again`,
      row.live ? row.address : '',
    );
    // After the address and a space: tests and scripts read the address up to the first space.
    o.log(`${announced ? 'standing by:' : `standby listening on ${address} ;`} ${who}`);
    announced = true;
  };
  let resolveDown!: (why: string) => void;
  const steppedDown = new Promise<string>((resolve) => {
    resolveDown = resolve;
  });
  const state = await leadOverPostgres({
    target,
    client,
    me: { id, address },
    leaseMs: o.leaseMs,
    stateDir: o.stateDir,
    log: o.log,
    onLeader,
    stopped: () => false,
    // Until then it would still name the leader it saw last, which is gone.
    onTakingOver: () => service.refuse(`coordinator ${id} at ${address} is taking over as the leader (loading the state): try again in a moment`, ''),
    onDeposed: (why) => {
      o.log(`stepping down: ${why}; this coordinator writes nothing more to the state database and stops`);
      service.refuse(`coordinator ${id} at ${address} stepped down: ${why}`, '');
      resolveDown(why);
    },
  });
  if (!state) throw new Error('stopped while standing by');
  return { port, state, steppedDown };
}

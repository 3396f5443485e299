/**
 * `picompute coordinators`: which of the coordinators given (--coordinator
 * a,b or PICOMPUTE_COORDINATOR) leads, which stand by, which do not answer;
 * a leader a standby names but the list lacks is shown too.
 */
import type { Command } from 'commander';
import { withConnectFlags } from '../connect-flags.js';
import type { ConnectFlags } from '../connect-flags.js';
import { action, UsageError } from '../errors.js';
import { securityFrom } from '../security-flags.js';
import { table } from '../table.js';

export function registerCoordinators(program: Command): void {
  withConnectFlags(
    program
      .command('coordinators')
      .description('show which coordinator leads and which stand by (several coordinators on one PostgreSQL state: see `coordinator --state`)'),
  ).action(
    action(async (flags: ConnectFlags) => {
      const { coordinatorRoles, locateCoordinator } = await import('@picompute/sdk/client');
      const named = (await locateCoordinator(flags.coordinator))?.address;
      if (!named) throw new UsageError('no coordinator: pass --coordinator a:7700,b:7700 or set PICOMPUTE_COORDINATOR');
      const roles = await coordinatorRoles(
        named.split(',').filter((a) => a.trim()),
        await securityFrom(flags),
        5000,
      );
      if (flags.json) console.log(JSON.stringify(roles));
      else
        console.log(
          table(
            ['ADDRESS', 'ROLE', 'DETAIL'],
            roles.map((r) => [r.address, r.role, r.detail || '-']),
          ),
        );
      // Like `queue` with no coordinator: no leader is a failure a script should see.
      if (!roles.some((r) => r.role === 'leader')) process.exitCode = 1;
    }),
  );
}

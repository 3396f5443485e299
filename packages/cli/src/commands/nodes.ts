/**
 * `picompute nodes` (like sinfo): every node with its state, cores, speed
 * per core (a multiple of the slowest node's, and why the node is slowed
 * when it throttles), memory, load, temperature and labels.
 */
import type { Command } from 'commander';
import { connectFrom, withConnectFlags } from '../connect-flags.js';
import type { ConnectFlags } from '../connect-flags.js';
import { action } from '../errors.js';
import { table } from '../table.js';
import { olderVersion } from '../version-compare.js';

export function registerNodes(program: Command): void {
  withConnectFlags(
    program
      .command('nodes')
      .description(
        'list the nodes: state, cores busy/total, speed per core (× the slowest node; and "throttled: …" while the node gets new tasks at a ' +
          'reduced rate), memory, load, temperature, labels, round trip of the last ping, picompute version; a node stopped cleanly shows as ' +
          '`down (stopped)` (one that said goodbye over mDNS for 10 minutes)',
      ),
  ).action(
    action(async (flags: ConnectFlags) => {
      const client = await connectFrom(flags);
      try {
        const { nodes: list, coordinatorVersion } = await client.nodeList();
        // `outdated`: the agent runs an older picompute than its coordinator (upgrade: drain it, re-run the join line there).
        const nodes = list.map((n) => ({ ...n, outdated: olderVersion(n.info.version, coordinatorVersion) }));
        if (flags.json) return void console.log(JSON.stringify(nodes));
        const rows = nodes.map((n) => {
          const hb = n.lastHeartbeat;
          const temp = hb && Number.isFinite(hb.temperatureC) ? `${hb.temperatureC.toFixed(1)}°C` : '-';
          return [
            n.info.id,
            n.state,
            `${n.coresBusy}/${n.info.cores}`,
            speed(n.speedFactor, n.slowed),
            hb ? `${hb.freeMemoryMb}/${n.info.memoryMb}M` : `-/${n.info.memoryMb}M`,
            hb ? hb.load1.toFixed(2) : '-',
            temp,
            n.info.labels.join(',') || '-',
            n.rttMs ? `${n.rttMs.toFixed(2)}ms` : '-',
            n.outdated ? `${n.info.version} (older)` : n.info.version || '-',
            n.address,
          ];
        });
        console.log(table(['NODE', 'STATE', 'CORES', 'SPEED', 'MEM FREE', 'LOAD', 'TEMP', 'LABELS', 'RTT', 'VERSION', 'ADDRESS'], rows));
        const old = nodes.filter((n) => n.outdated).map((n) => n.info.id);
        if (old.length)
          process.stderr.write(
            `${old.length} node${old.length > 1 ? 's run' : ' runs'} an older picompute than the coordinator (${coordinatorVersion}): ${old.join(', ')}. ` +
              'Upgrade each with `picompute drain NODE` (running tasks finish), the join line again on the node (it upgrades in place), then `picompute resume NODE`.\n',
          );
      } finally {
        client.close();
      }
    }),
  );
}

/** `2.6×`, `1.0× throttled: under-voltage`, or `-` before the node has measured itself. */
function speed(factor: number, slowed: string): string {
  return [factor > 0 ? `${factor.toFixed(1)}×` : '-', slowed].filter(Boolean).join(' ');
}

/**
 * The node registry: one AgentLink per agent address, which nodes are
 * drained, the agents that said goodbye (listed a while as stopped), and
 * twins (one agent found at two addresses). What happens to a lost node's
 * tasks is the caller's (./cluster.ts) business, told through `events`.
 */
import type { Security } from '@picompute/sdk/auth';
import type { HeldTask, NodeStatus, TaskResult } from '@picompute/sdk/wire';
import { AgentLink } from './agent-link.js';
import type { WorkDialer } from './agent-link.js';
import { slowedNow, slowedReason } from './node-condition.js';
import { speedFactors } from './scheduler/index.js';
import type { NodeSnapshot } from './scheduler/index.js';
import { UserError } from './submit-checks.js';

/** How long `nodes` keeps listing an agent that said goodbye, as `down (stopped)`: long enough to notice it went. */
export const STOPPED_LISTED_MS = 10 * 60_000;
/** An agent proving itself at a new address while its old link has been quiet this long has moved (heartbeats come every second). */
const TWIN_SILENT_MS = 1500;

export interface RegistryEvents {
  /** A node came up or changed what it can take: time for another round. */
  changed(): void;
  /** A node came up (first seen, or back): after a restart, it may hold runs of recovered keyed jobs. */
  up?(link: AgentLink): void;
  /** A node that was up is gone (or forgotten): its in-flight tasks must run elsewhere. */
  lost(link: AgentLink, reason: string): void;
  results(link: AgentLink, results: TaskResult[]): void;
  needBundle(link: AgentLink, hash: string): void;
  /** Tasks an agent holds from a coordinator stream that closed (see ./adopt-held.ts). */
  held(link: AgentLink, tasks: HeldTask[]): void;
}

export interface NodeShape {
  id: string;
  cores: number;
  memoryMb: number;
  labels: readonly string[];
}

export class NodeRegistry {
  readonly #links = new Map<string, AgentLink>();
  /** Agents forgotten after their goodbye, by address: their last status and when they left. */
  readonly #gone = new Map<string, { status: NodeStatus; at: number }>();
  /** By agent id: the address of a twin link given up because the agent was already reachable elsewhere. */
  readonly #spares = new Map<string, string>();
  #closed = false;

  constructor(
    private readonly drained: Set<string>,
    private readonly events: RegistryEvents,
    private readonly log: (line: string) => void,
    private readonly security: Security,
    private readonly deadAfterMs?: number,
  ) {}

  get(address: string): AgentLink | undefined {
    return this.#links.get(address);
  }

  links(): IterableIterator<AgentLink> {
    return this.#links.values();
  }

  /**
   * Dials an agent (named by hand, found by mDNS, or registering itself); a
   * second call for the same address is a no-op. `dialWork` replaces gRPC
   * for an agent in this very process (the embedded cluster).
   */
  add(address: string, dialWork?: WorkDialer): void {
    if (this.#closed || this.#links.has(address)) return;
    this.#gone.delete(address);
    const link = new AgentLink(
      address,
      {
        up: (l) => this.#up(l),
        down: (l, reason) => {
          this.events.lost(l, reason);
          // Its twin's address may be where the agent is now.
          const spare = this.#spares.get(l.id);
          if (spare && spare !== l.address) {
            this.#spares.delete(l.id);
            this.add(spare);
          }
        },
        results: (l, results) => this.events.results(l, results),
        needBundle: (l, hash) => this.events.needBundle(l, hash),
        held: (l, tasks) => this.events.held(l, tasks),
      },
      this.log,
      this.security,
      this.deadAfterMs,
      dialWork,
    );
    this.#links.set(address, link);
  }

  #up(l: AgentLink): void {
    const twin = [...this.#links.values()].find((o) => o !== l && o.up && o.id === l.id);
    if (twin && twin.silentMs >= TWIN_SILENT_MS) {
      // The agent moved (a new lease): it just proved the key at the new address, the old link has gone quiet.
      this.log(`agent ${l.id} moved from ${twin.address} to ${l.address}`);
      this.#forget(twin, `it moved to ${l.address}`);
    } else if (twin) {
      // Found twice (named by hand and by mDNS, say): keep the first link, and this address in case the first goes.
      this.log(`agent ${l.id} is reachable at ${twin.address} and ${l.address}; using ${twin.address}`);
      this.#spares.set(l.id, l.address);
      this.#forget(l, 'a twin');
      return;
    }
    this.log(`agent ${l.id} up at ${l.address} (${l.info?.cores} cores)`);
    // Back (perhaps at another address): no longer listed as stopped.
    for (const [address, g] of this.#gone) if (g.status.info.id === l.id) this.#gone.delete(address);
    this.events.up?.(l);
    this.events.changed();
  }

  /** Forgets an agent (its mDNS goodbye was heard); its running tasks run again elsewhere. */
  remove(address: string, reason = 'removed'): void {
    const link = this.#links.get(address);
    if (!link) return;
    this.#forget(link, reason);
    if (link.info) this.#gone.set(address, { status: { ...this.status(link), state: 'down (stopped)', coresBusy: 0, tasksInFlight: 0 }, at: Date.now() });
  }

  /** Stops dialling a link; its running tasks run again elsewhere. */
  #forget(link: AgentLink, reason: string): void {
    this.#links.delete(link.address);
    if (link.up) this.events.lost(link, reason);
    link.close();
  }

  /**
   * Nodes that proved the cluster key at least once (an address only
   * advertised, since mDNS is a hint, or never reached is no node), and for
   * STOPPED_LISTED_MS those that were removed (so a stopped node does not just vanish).
   */
  nodes(): NodeStatus[] {
    const now = Date.now();
    for (const [address, g] of this.#gone) if (now - g.at > STOPPED_LISTED_MS) this.#gone.delete(address);
    const live = [...this.#links.values()].filter((l) => l.info).map((l) => this.status(l));
    // Relative to the slowest node that is up: one gone since says nothing of the cluster now.
    const factors = speedFactors(live.map((n) => (n.state.startsWith('down') ? 0 : (n.lastHeartbeat?.speed ?? 0))));
    live.forEach((n, i) => {
      n.speedFactor = factors[i]!;
    });
    return [...live, ...[...this.#gone.values()].map((g) => g.status)];
  }

  /** Stops (or allows again) placing tasks on a node; the caller remembers it across restarts. */
  drain(node: string, drain: boolean): AgentLink {
    const link = this.find(node);
    if (drain) this.drained.add(link.id);
    else this.drained.delete(link.id);
    this.log(`node ${link.id} ${drain ? 'draining' : 'resumed'}`);
    return link;
  }

  /** A node by id, address or hostname. */
  find(node: string): AgentLink {
    const link = [...this.#links.values()].find((l) => l.id === node || l.address === node || l.info?.hostname === node);
    if (!link) throw new UserError(`no node ${node}; see \`picompute nodes\``, true);
    return link;
  }

  status(l: AgentLink): NodeStatus {
    const cores = l.info?.cores ?? 0;
    const busy = l.up ? Math.min(cores, l.coresInFlight) : 0;
    const drained = this.drained.has(l.id);
    const state = !l.up
      ? l.stopped
        ? 'down (stopped)'
        : 'down'
      : drained
        ? l.tasksInFlight
          ? 'draining'
          : 'drained'
        : busy === 0
          ? 'idle'
          : busy >= cores
            ? 'allocated'
            : 'mixed';
    return {
      info: l.info ?? { id: l.address, hostname: '', cores: 0, memoryMb: 0, arch: '', nodeVersion: '', version: '', labels: [] },
      address: l.address,
      state,
      coresBusy: busy,
      tasksInFlight: l.tasksInFlight,
      tasksDone: l.tasksDone,
      lastHeartbeat: l.heartbeat ?? null,
      rttMs: l.rttMs,
      speedFactor: 0,
      slowed: l.up ? slowedReason(l.heartbeat) : '',
    };
  }

  /** The nodes that ever proved the key, as the scheduler sees them now. */
  snapshot(): NodeSnapshot[] {
    const nodes: NodeSnapshot[] = [];
    for (const l of this.#links.values()) {
      if (!l.info) continue;
      nodes.push({
        id: l.address,
        health: !l.up ? 'down' : this.drained.has(l.id) ? 'draining' : 'up',
        cores: l.info.cores,
        freeSlots: l.window - l.coresInFlight,
        freeMemoryMb: l.info.memoryMb - l.memoryInFlight,
        memoryMb: l.info.memoryMb,
        labels: l.info.labels,
        window: l.window,
        speed: l.heartbeat?.speed ?? 0,
        throttled: slowedNow(l.heartbeat),
      });
    }
    return nodes;
  }

  /** What each known node has, for the submit checks. */
  shapes(): NodeShape[] {
    return [...this.#links.values()].filter((l) => l.info).map((l) => ({ id: l.id, cores: l.info!.cores, memoryMb: l.info!.memoryMb, labels: l.info!.labels }));
  }

  /**
   * What each live job holds on the nodes now: tasks on a core, tasks queued
   * in an agent's window (two core-slots per core) and the cores in use,
   * which can never exceed the nodes' cores.
   */
  occupancy(): Map<string, { running: number; queued: number; cores: number }> {
    const total = new Map<string, { running: number; queued: number; cores: number }>();
    for (const l of this.#links.values()) {
      if (!l.up) continue;
      for (const [jobId, o] of l.occupancy()) {
        const t = total.get(jobId);
        if (!t) total.set(jobId, { ...o });
        else {
          t.running += o.running;
          t.queued += o.queued;
          t.cores += o.cores;
        }
      }
    }
    return total;
  }

  /** Tells every node to stop a job's tasks. */
  /** Tells node `nodeId` to stop these runs of a live job's tasks (a backup's loser). */
  cancelTasks(nodeId: string, jobId: string, tasks: readonly { index: number; attempt: number }[]): void {
    for (const l of this.#links.values()) if (l.id === nodeId) l.cancelTasks(jobId, tasks);
  }

  cancelJob(jobId: string, everyNode = false): void {
    for (const l of this.#links.values()) l.cancelJob(jobId, everyNode);
  }

  close(): void {
    this.#closed = true;
    for (const link of this.#links.values()) link.close();
    this.#links.clear();
  }
}

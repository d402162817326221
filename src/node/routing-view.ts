/**
 * A node's indexed copy of the routing table: slot → shard in O(1) for the default keyspace, the shards
 * this node leads, and the address to redirect a client to.
 */
import type { RoutingNode, RoutingShard, RoutingTable } from '../common/routing.js';
import { SLOT_COUNT } from '../common/slots.js';

export const DEFAULT_KEYSPACE = 'default';

export class RoutingView {
  /** Index into `shards` for each slot of the default keyspace; -1 where no shard owns the slot. */
  private readonly slotToShard = new Int32Array(SLOT_COUNT).fill(-1);
  /** The default keyspace's shards that own slots, ordered by start slot. */
  readonly shards: readonly RoutingShard[];
  /** Targets of splits under way: shards that own no slot yet. */
  readonly splitTargets: readonly RoutingShard[];
  private readonly nodesById = new Map<string, RoutingNode>();
  /** `-MOVED` targets "host:port" by node id, built once per table. */
  private readonly addressById = new Map<string, string>();
  /** The reverse: which node a `-MOVED` names. */
  private readonly idByAddress = new Map<string, string>();

  constructor(
    readonly table: RoutingTable,
    readonly selfId: string | undefined,
  ) {
    const keyspace = table.shards.filter((s) => s.keyspace === DEFAULT_KEYSPACE);
    // A split's target owns no slot until the switch: it is listed apart, never routed to.
    this.shards = keyspace.filter((s) => s.end > s.start).sort((a, b) => a.start - b.start);
    this.splitTargets = keyspace.filter((s) => s.end <= s.start);
    for (const [index, shard] of this.shards.entries()) this.slotToShard.fill(index, shard.start, shard.end);
    for (const node of table.nodes) {
      this.nodesById.set(node.id, node);
      this.addressById.set(node.id, `${node.host}:${node.port}`);
      this.idByAddress.set(`${node.host}:${node.port}`, node.id);
    }
  }

  get version(): number {
    return this.table.version;
  }

  get nodes(): readonly RoutingNode[] {
    return this.table.nodes;
  }

  shardOfSlot(slot: number): RoutingShard | undefined {
    const index = this.slotToShard[slot]!;
    return index < 0 ? undefined : this.shards[index];
  }

  node(id: string): RoutingNode | undefined {
    return this.nodesById.get(id);
  }

  /** "host:port" of a node, for `-MOVED`. */
  address(nodeId: string): string | undefined {
    return this.addressById.get(nodeId);
  }

  /** The node at "host:port" (the target of a `-MOVED`). */
  nodeAt(address: string): string | undefined {
    return this.idByAddress.get(address);
  }

  /** Shards of the default keyspace this node leads, in slot order. */
  ledShards(): RoutingShard[] {
    return this.shards.filter((s) => s.leader === this.selfId);
  }

  /** Shards (of any keyspace) with a replica on this node. */
  hostedShards(): RoutingShard[] {
    return this.table.shards.filter((s) => this.selfId !== undefined && s.replicas.includes(this.selfId));
  }

  /** Whether every slot of the default keyspace has a shard with a known leader. */
  allSlotsServed(): boolean {
    let covered = 0;
    for (const shard of this.shards) {
      if (shard.leader === null || !this.nodesById.has(shard.leader)) return false;
      covered += shard.end - shard.start;
    }
    return covered === SLOT_COUNT;
  }
}

/**
 * The pilot's table with each shard's leader as this node's Raft group for it knows it (null while the
 * group knows none), so the node's answers follow elections without waiting for the pilot. A group of a
 * shard the table no longer lists this node on (a replica moved off it, running until it learns of its
 * removal) overrides only with a leader it hears from: knowing none, it would hide the table's leader
 * from clients for as long as it runs.
 * `leaderOf` answers undefined for a shard with no group here.
 */
export function withKnownLeaders(table: RoutingTable, selfId: string, leaderOf: (shardId: string) => string | null | undefined): RoutingTable {
  let changed = false;
  const shards = table.shards.map((shard) => {
    const leader = leaderOf(shard.id);
    if (leader === undefined || leader === shard.leader) return shard;
    if (leader === null && !shard.replicas.includes(selfId)) return shard;
    changed = true;
    return { ...shard, leader };
  });
  return changed ? { ...table, shards } : table;
}

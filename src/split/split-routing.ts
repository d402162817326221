/**
 * The answers a node gives for slots a split is moving (docs/SPLIT.md, switching): which shard serves a
 * slot the routing table does not give it yet, where a client goes for a slot its shard gave away, and
 * the writes held meanwhile. Shared by the node server and the simulation, over the node's own replicas.
 */
import type { RoutingShard, RoutingTable } from '../common/routing.js';
import { error, type Reply } from '../resp/reply.js';
import type { ShardReplica } from '../shard/shard-replica.js';
import type { HoldResult, SplitBuffer } from './split-buffer.js';
import { newOwnerOf, targetServing } from './split-overlay.js';

/** A slot moving in a split whose new owner is not known here yet, or a handover rolled back: retry. */
export const SPLIT_TRYAGAIN = error('TRYAGAIN the slot is moving to another shard; retry shortly');

/** What the answers read of the node's routing view (node/routing-view.ts). */
export interface SplitRoutingView {
  readonly table: RoutingTable;
  /** Split targets the table lists, serving no slot there yet. */
  readonly splitTargets: readonly RoutingShard[];
  address(nodeId: string): string | undefined;
  shardOfSlot(slot: number): RoutingShard | undefined;
}

/** What the answers need of the node. */
export interface SplitRoutingHost {
  routing(): SplitRoutingView;
  replica(shardId: string): ShardReplica | undefined;
  readonly buffer: SplitBuffer;
  now(): number;
  /** The node that last answered this node's split requests as `shardId`'s leader (a target that took its handoff there), if any. */
  splitTargetLeader(shardId: string): string | undefined;
}

export class SplitRouting {
  constructor(private readonly host: SplitRoutingHost) {}

  /**
   * `-MOVED` to the leader of `shardId` as this node knows it; TRYAGAIN while none is known. A split's
   * target is named by the node that took the handoff as its leader, which has applied it: the table's
   * leader may be a follower that has not, and would send the client back to the source.
   */
  movedTo(shardId: string, slot: number): Reply {
    const view = this.host.routing();
    const leader = this.host.splitTargetLeader(shardId) ?? view.table.shards.find((s) => s.id === shardId)?.leader;
    const address = leader === null || leader === undefined ? undefined : view.address(leader);
    return address === undefined ? SPLIT_TRYAGAIN : error(`MOVED ${slot} ${address}`);
  }

  /** A split's target whose replica here already owns `slot` (handed over, the routing table not yet updated). */
  splitTargetOwning(slot: number): string | undefined {
    const { host } = this;
    return targetServing(
      slot,
      host.routing().splitTargets.map((t) => ({ id: t.id, owned: host.replica(t.id)?.ownedRange() ?? null })),
    );
  }

  /** Offers a write to the split buffer. */
  holdWrite(shardId: string, slot: number): HoldResult {
    return this.host.buffer.hold(shardId, slot, this.host.now(), SPLIT_TRYAGAIN);
  }

  /** The answer for `slot` once `shardId` has given it away: MOVED to its new owner, or TRYAGAIN. */
  movedAway(shardId: string, slot: number): Reply {
    const view = this.host.routing();
    const marker = view.table.shards.find((s) => s.id === shardId)?.split;
    const owner = newOwnerOf(shardId, this.host.replica(shardId)?.splitState() ?? null, marker, view.shardOfSlot(slot)?.id, (taskId) =>
      this.host.buffer.handedOver(shardId, taskId),
    );
    return owner === undefined ? SPLIT_TRYAGAIN : this.movedTo(owner, slot);
  }
}

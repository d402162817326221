/**
 * Routing between a split's switch and the routing table that records it (docs/SPLIT.md, switching):
 * ownership is settled by the two shards' logs first, so until routing version V+1 arrives a node
 * overlays what its own replicas know on the pilot's table — a target replica here answers for the slots
 * its log owns, and a source that gave slots away redirects them to the target once the target took them.
 * Pure: callers pass what the replicas and the table say.
 */
import type { RoutingSplit } from '../common/routing.js';
import type { OwnedRange, ShardSplitState } from '../shard/split-state.js';

/** A split target listed in the table (serving no slot there yet), as this node's replica of it stands. */
export interface TargetReplica {
  readonly id: string;
  /** The range its log owns; null or empty before the handoff. */
  readonly owned: OwnedRange | null;
}

/**
 * The split target whose replica here already owns `slot`; undefined: route by the table. A follower
 * answers too — the request fails as not led here and the client goes to the target's leader as Raft
 * knows it — since the table would send the client back to the source, which sends it here again
 * while the table names a target leader that has stepped down.
 */
export function targetServing(slot: number, targets: Iterable<TargetReplica>): string | undefined {
  for (const target of targets) {
    if (target.owned !== null && slot >= target.owned.start && slot < target.owned.end) return target.id;
  }
  return undefined;
}

/**
 * The shard that now owns `slot`, which `shardId` gave away: the target of the split its log records once
 * this node knows the target took the handoff (`handedOver`: before that the target's node still routes the
 * slot back here, and a client would bounce between the two), else of the split its routing marker still
 * shows (the log's split state is cleared once cleanup ends, which follows the handoff), else whatever
 * newer table routes the slot elsewhere. undefined: not known here yet (TRYAGAIN).
 */
export function newOwnerOf(
  shardId: string,
  split: ShardSplitState | null,
  marker: RoutingSplit | undefined,
  routedOwner: string | undefined,
  handedOver: (taskId: string) => boolean,
): string | undefined {
  if (split?.role === 'source') return handedOver(split.taskId) ? split.target : undefined;
  if (marker?.role === 'source') return marker.peer;
  return routedOwner !== undefined && routedOwner !== shardId ? routedOwner : undefined;
}

/**
 * What FLUSHALL flushes on a node: the shards it leads, and the split targets it leads that the table does
 * not list yet (after the handoff they own keys). 'switching' while a source it leads has switched but
 * not finished its cleanup: the target may not have taken the handoff yet, and then neither the source's
 * flush (forwarding has ended) nor the target's (its source still covers the range) reaches the moved keys.
 */
export function flushPlan(led: readonly string[], ledTargets: readonly string[], stateOf: (shardId: string) => ShardSplitState | null): readonly string[] | 'switching' {
  const switching = led.some((id) => {
    const state = stateOf(id);
    return state?.role === 'source' && state.phase === 'committed';
  });
  return switching ? 'switching' : [...led, ...ledTargets];
}

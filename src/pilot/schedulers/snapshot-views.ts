/**
 * Views of a cluster snapshot every scheduler shares: id order, busy shards, keyspaces, nodes by state and
 * per-node counts. Pure; every list comes out in a fixed order so decisions do not depend on input order.
 */
import type { ClusterSnapshot, SchedulerConfig, SnapshotNodeState, SnapshotShard } from './types.js';

/** Ids of one kind differ in their number only (`node2`, `node10`), so shorter first, then text order, is number order. */
export function compareIds(a: string, b: string): number {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
}

export function sortedIds(ids: Iterable<string>): string[] {
  return [...ids].sort(compareIds);
}

/** Shards marked in a task, or named by a task in flight: no scheduler touches them. */
export function busyShardIds(snapshot: ClusterSnapshot): Set<string> {
  const busy = new Set(snapshot.shards.filter((s) => s.inTask).map((s) => s.id));
  for (const task of snapshot.tasks) for (const id of task.shardIds) busy.add(id);
  return busy;
}

/** Each keyspace's shards ordered by first slot; keyspaces in name order. */
export function shardsByKeyspace(snapshot: ClusterSnapshot): Map<string, SnapshotShard[]> {
  const byKeyspace = new Map<string, SnapshotShard[]>();
  const names = [...new Set(snapshot.shards.map((s) => s.keyspace))].sort();
  for (const name of names) {
    byKeyspace.set(
      name,
      snapshot.shards.filter((s) => s.keyspace === name).sort((a, b) => a.slots.start - b.slots.start),
    );
  }
  return byKeyspace;
}

/** Ids of the nodes in `state`, sorted. */
export function nodeIdsIn(snapshot: ClusterSnapshot, state: SnapshotNodeState): string[] {
  return sortedIds(snapshot.nodes.filter((n) => n.state === state).map((n) => n.id));
}

/** Nodes down for `downAfterMs` or longer: their replicas are rebuilt elsewhere. */
export function deadNodeIds(snapshot: ClusterSnapshot, config: SchedulerConfig): Set<string> {
  return new Set(snapshot.nodes.filter((n) => n.state === 'down' && n.downSinceMs !== undefined && snapshot.nowMs - n.downSinceMs >= config.downAfterMs).map((n) => n.id));
}

/** Replicas each of `nodeIds` holds, zero included. */
export function replicaCounts(snapshot: ClusterSnapshot, nodeIds: readonly string[]): Map<string, number> {
  const counts = new Map(nodeIds.map((id) => [id, 0]));
  for (const shard of snapshot.shards) {
    for (const node of shard.replicas) {
      const count = counts.get(node);
      if (count !== undefined) counts.set(node, count + 1);
    }
  }
  return counts;
}

/** Shards each of `nodeIds` leads, zero included. */
export function leaderCounts(snapshot: ClusterSnapshot, nodeIds: readonly string[]): Map<string, number> {
  const counts = new Map(nodeIds.map((id) => [id, 0]));
  for (const shard of snapshot.shards) {
    const count = shard.leader === undefined ? undefined : counts.get(shard.leader);
    if (count !== undefined) counts.set(shard.leader!, count + 1);
  }
  return counts;
}

/** Candidates by count, fewest first, ties by id. */
export function fewestFirst(candidates: readonly string[], counts: ReadonlyMap<string, number>): string[] {
  return [...candidates].sort((a, b) => (counts.get(a) ?? 0) - (counts.get(b) ?? 0) || compareIds(a, b));
}

/** Candidates by count, most first, ties by id. */
export function mostFirst(candidates: readonly string[], counts: ReadonlyMap<string, number>): string[] {
  return [...candidates].sort((a, b) => (counts.get(b) ?? 0) - (counts.get(a) ?? 0) || compareIds(a, b));
}

/** Adds `delta` to a node's planned count. */
export function bump(counts: Map<string, number>, nodeId: string, delta: number): void {
  counts.set(nodeId, (counts.get(nodeId) ?? 0) + delta);
}

/**
 * Replica rebalance (seed 002's Rebalancer): replica counts of the up nodes within ±1. A move adds a
 * replica on the emptiest node first and removes one from the fullest once the shard has more replicas than
 * the replication factor, so a shard never has fewer than it. Only shards whose replicas are all on up nodes
 * move; down and draining nodes are repair's and drain's. Pure.
 */
import { formatBytes } from './figures.js';
import { bump, busyShardIds, compareIds, fewestFirst, mostFirst, nodeIdsIn, replicaCounts } from './snapshot-views.js';
import type { ClusterSnapshot, Operator, SchedulerConfig, SnapshotShard } from './types.js';

export function replicaRebalance(snapshot: ClusterSnapshot, config: SchedulerConfig): Operator[] {
  const up = nodeIdsIn(snapshot, 'up');
  const upSet = new Set(up);
  const busy = busyShardIds(snapshot);
  const movable = snapshot.shards.filter((s) => !busy.has(s.id) && s.replicas.every((n) => upSet.has(n))).sort((a, b) => compareIds(a.id, b.id));
  const counts = replicaCounts(snapshot, up);
  const operators: Operator[] = [];
  const planned = new Set<string>();

  // Second half of earlier moves: drop the extra replica from the fullest node holding one, a follower on ties.
  for (const shard of movable.filter((s) => s.replicas.length > config.replicationFactor)) {
    const byCount = mostFirst(shard.replicas, counts);
    const most = counts.get(byCount[0]!)!;
    const node = byCount.find((n) => counts.get(n) === most && n !== shard.leader) ?? byCount[0]!;
    operators.push({
      kind: 'remove-replica',
      shardId: shard.id,
      nodeId: node,
      scheduler: 'replica-rebalance',
      reason: `${shard.replicas.length} replicas > replication factor ${config.replicationFactor}; ${node} holds the most of them (${most})`,
    });
    bump(counts, node, -1);
    planned.add(shard.id);
  }

  // First half of new moves: the fullest node's smallest shard gets a replica on the emptiest node that lacks one.
  const smallestFirst = (a: SnapshotShard, b: SnapshotShard): number => a.bytes - b.bytes || compareIds(a.id, b.id);
  for (;;) {
    const fullest = mostFirst(up, counts)[0];
    if (fullest === undefined) break;
    const most = counts.get(fullest)!;
    const move = fewestFirst(up, counts)
      .filter((target) => most - counts.get(target)! > 1)
      .flatMap((target) =>
        movable
          .filter((s) => !planned.has(s.id) && s.replicas.includes(fullest) && !s.replicas.includes(target))
          .sort(smallestFirst)
          .slice(0, 1)
          .map((shard) => ({ shard, target })),
      )[0];
    if (move === undefined) break;
    const { shard, target } = move;
    operators.push({
      kind: 'add-replica',
      shardId: shard.id,
      nodeId: target,
      scheduler: 'replica-rebalance',
      reason: `${fullest} holds ${most} replicas, ${target} holds ${counts.get(target)}: add on ${target}, then remove from ${fullest} (${formatBytes(shard.bytes)})`,
    });
    bump(counts, target, 1);
    bump(counts, fullest, -1);
    planned.add(shard.id);
  }
  return operators;
}

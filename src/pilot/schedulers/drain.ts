/**
 * Drain: a draining node gives up its leaders first (clients keep being served while its replicas go), each
 * to the up follower leading the fewest shards; then its replicas, each removed once the shard has the
 * replication factor on up nodes without it, after an add on the up node holding the fewest replicas. A
 * shard whose only up replica is the draining one gets a replica first, so it has somewhere to send its
 * leader. Pure.
 */
import { bump, busyShardIds, compareIds, fewestFirst, leaderCounts, nodeIdsIn, replicaCounts } from './snapshot-views.js';
import type { ClusterSnapshot, Operator, SchedulerConfig, SnapshotShard } from './types.js';

export function drain(snapshot: ClusterSnapshot, config: SchedulerConfig): Operator[] {
  const up = nodeIdsIn(snapshot, 'up');
  const upSet = new Set(up);
  const leaders = leaderCounts(snapshot, up);
  const replicas = replicaCounts(snapshot, up);
  const busy = busyShardIds(snapshot);
  const shards = [...snapshot.shards].sort((a, b) => compareIds(a.id, b.id));
  const operators: Operator[] = [];
  const addReplica = (shard: SnapshotShard, reason: string): void => {
    const target = fewestFirst(up, replicas).find((n) => !shard.replicas.includes(n));
    if (target === undefined) return;
    operators.push({ kind: 'add-replica', shardId: shard.id, nodeId: target, scheduler: 'drain', reason: `${reason}; ${target} holds ${replicas.get(target)} replicas` });
    bump(replicas, target, 1);
  };
  for (const draining of nodeIdsIn(snapshot, 'draining')) {
    const led = shards.filter((s) => s.leader === draining);
    if (led.length > 0) {
      for (const shard of led.filter((s) => !busy.has(s.id))) {
        const target = fewestFirst(
          shard.replicas.filter((n) => upSet.has(n)),
          leaders,
        )[0];
        if (target === undefined) {
          addReplica(shard, `${draining} is draining and leads the shard with no up follower`);
          continue;
        }
        operators.push({
          kind: 'transfer-leader',
          shardId: shard.id,
          nodeId: target,
          scheduler: 'drain',
          reason: `${draining} is draining and leads ${led.length} shards; ${target} leads ${leaders.get(target)}`,
        });
        bump(leaders, target, 1);
      }
      continue;
    }
    for (const shard of shards.filter((s) => !busy.has(s.id) && s.replicas.includes(draining))) {
      const upReplicas = shard.replicas.filter((n) => upSet.has(n)).length;
      if (upReplicas < config.replicationFactor) {
        addReplica(shard, `${draining} is draining and the shard has ${upReplicas} up replicas < replication factor ${config.replicationFactor}`);
        continue;
      }
      operators.push({
        kind: 'remove-replica',
        shardId: shard.id,
        nodeId: draining,
        scheduler: 'drain',
        reason: `${draining} is draining, leads nothing, and the shard has ${upReplicas} up replicas ≥ replication factor ${config.replicationFactor}`,
      });
    }
  }
  return operators;
}

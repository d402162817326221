/**
 * Repair: once a node has been down for `downAfterMs`, its replicas are rebuilt elsewhere. A shard with
 * fewer live replicas than the replication factor gets one on the up node holding the fewest replicas;
 * once it has enough, the dead node's replica is removed. Shards closest to losing their quorum go first.
 * A shorter outage is waited out: the node catches up from its Raft log far more cheaply. Pure.
 */
import { formatDuration } from './figures.js';
import { bump, busyShardIds, compareIds, deadNodeIds, fewestFirst, nodeIdsIn, replicaCounts, sortedIds } from './snapshot-views.js';
import type { ClusterSnapshot, Operator, SchedulerConfig } from './types.js';

export function repair(snapshot: ClusterSnapshot, config: SchedulerConfig): Operator[] {
  const dead = deadNodeIds(snapshot, config);
  const up = nodeIdsIn(snapshot, 'up');
  const counts = replicaCounts(snapshot, up);
  const busy = busyShardIds(snapshot);
  const liveCount = (replicas: readonly string[]): number => replicas.filter((n) => !dead.has(n)).length;
  const downFor = (nodeId: string): string => {
    const since = snapshot.nodes.find((n) => n.id === nodeId)?.downSinceMs ?? snapshot.nowMs;
    return `${nodeId} down for ${formatDuration(snapshot.nowMs - since)} ≥ ${formatDuration(config.downAfterMs)}`;
  };
  const needy = snapshot.shards
    .filter((s) => !busy.has(s.id) && (liveCount(s.replicas) < config.replicationFactor || s.replicas.some((n) => dead.has(n))))
    .sort((a, b) => liveCount(a.replicas) - liveCount(b.replicas) || compareIds(a.id, b.id));
  const operators: Operator[] = [];
  for (const shard of needy) {
    const live = liveCount(shard.replicas);
    const gone = sortedIds(shard.replicas.filter((n) => dead.has(n)));
    if (live < config.replicationFactor) {
      const target = fewestFirst(up, counts).find((n) => !shard.replicas.includes(n));
      if (target === undefined) continue;
      const why = gone.length > 0 ? gone.map(downFor).join(', ') : 'short of replicas';
      operators.push({
        kind: 'add-replica',
        shardId: shard.id,
        nodeId: target,
        scheduler: 'repair',
        reason: `${live} live replicas < replication factor ${config.replicationFactor} (${why}); ${target} holds ${counts.get(target)} replicas`,
      });
      bump(counts, target, 1);
    } else {
      operators.push({
        kind: 'remove-replica',
        shardId: shard.id,
        nodeId: gone[0]!,
        scheduler: 'repair',
        reason: `${downFor(gone[0]!)} and ${live} live replicas ≥ replication factor ${config.replicationFactor}`,
      });
    }
  }
  return operators;
}

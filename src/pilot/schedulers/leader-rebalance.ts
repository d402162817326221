/**
 * Leader rebalance: the hottest shards' leaders on different nodes, then leader counts of the up nodes
 * within ±1, both by transferring leadership to a node that already holds a replica (no data moves). A
 * count move only goes from a node to one leading at least two fewer, so every move narrows the spread and
 * the scheduler settles; it never puts a hot leader beside another. Pure.
 */
import { figure } from './figures.js';
import { bump, busyShardIds, compareIds, fewestFirst, leaderCounts, mostFirst, nodeIdsIn } from './snapshot-views.js';
import { shardLoad, shardTemperature } from './temperature.js';
import type { ClusterSnapshot, Operator, SchedulerConfig, SnapshotShard } from './types.js';

export function leaderRebalance(snapshot: ClusterSnapshot, config: SchedulerConfig): Operator[] {
  const up = nodeIdsIn(snapshot, 'up');
  const upSet = new Set(up);
  const busy = busyShardIds(snapshot);
  const { nowMs } = snapshot;
  const led = snapshot.shards.filter((s) => s.leader !== undefined && upSet.has(s.leader)).sort((a, b) => compareIds(a.id, b.id));
  const counts = leaderCounts(snapshot, up);
  const leaderOf = new Map(led.map((s) => [s.id, s.leader!]));
  const operators: Operator[] = [];
  const transfer = (shard: SnapshotShard, nodeId: string, reason: string): void => {
    operators.push({ kind: 'transfer-leader', shardId: shard.id, nodeId, scheduler: 'leader-rebalance', reason });
    bump(counts, leaderOf.get(shard.id)!, -1);
    bump(counts, nodeId, 1);
    leaderOf.set(shard.id, nodeId);
  };
  const followers = (shard: SnapshotShard): string[] => shard.replicas.filter((n) => upSet.has(n) && n !== leaderOf.get(shard.id));

  // The hottest shards, one per up node at most, each on a node leading no hotter one.
  const load = new Map(led.map((s) => [s.id, shardLoad(s, nowMs, config)]));
  const hottest = led
    .filter((s) => shardTemperature(s, nowMs, config) === 'hot')
    .sort((a, b) => load.get(b.id)! - load.get(a.id)! || compareIds(a.id, b.id))
    .slice(0, up.length);
  const hotLeaders = new Set<string>();
  for (const shard of hottest) {
    const leader = leaderOf.get(shard.id)!;
    if (!hotLeaders.has(leader)) {
      hotLeaders.add(leader);
      continue;
    }
    const target = busy.has(shard.id) ? undefined : fewestFirst(followers(shard), counts).find((n) => !hotLeaders.has(n));
    if (target === undefined) continue;
    transfer(shard, target, `${figure(load.get(shard.id)!)} ops/s, one of the ${hottest.length} hottest shards, and ${leader} leads a hotter one`);
    hotLeaders.add(target);
  }

  // Counts: from the node leading the most to a replica's node leading at least two fewer.
  const hot = new Set(hottest.map((s) => s.id));
  const moved = new Set(operators.map((o) => o.shardId));
  const nextMove = (): { shard: SnapshotShard; from: string; to: string } | undefined => {
    for (const from of mostFirst(up, counts)) {
      for (const shard of led) {
        if (leaderOf.get(shard.id) !== from || busy.has(shard.id) || moved.has(shard.id)) continue;
        const to = fewestFirst(followers(shard), counts).find((n) => counts.get(from)! - counts.get(n)! > 1 && !(hot.has(shard.id) && hotLeaders.has(n)));
        if (to !== undefined) return { shard, from, to };
      }
    }
    return undefined;
  };
  for (let move = nextMove(); move !== undefined; move = nextMove()) {
    const { shard, from, to } = move;
    transfer(shard, to, `${from} leads ${counts.get(from)} shards, ${to} leads ${counts.get(to)}`);
    moved.add(shard.id);
    if (hot.has(shard.id)) {
      hotLeaders.delete(from);
      hotLeaders.add(to);
    }
  }
  return operators;
}

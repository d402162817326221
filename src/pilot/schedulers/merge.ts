/**
 * Merge: two adjacent shards of one keyspace, both below `mergeSizeFraction` of the split threshold that
 * would apply after the merge, both cold (or frozen) over the temperature window, neither created by a
 * split within `mergeAfterSplitDelayMs`, neither in a task. Measuring against the threshold after the merge
 * keeps the merged shard below half of it, so it does not split again (no flapping). The smallest pairs go
 * first; a shard takes part in one merge per round. The left shard absorbs the right one. Pure.
 */
import { formatBytes, formatDuration } from './figures.js';
import { busyShardIds, nodeIdsIn, shardsByKeyspace } from './snapshot-views.js';
import { splitThreshold } from './split-phase.js';
import { shardTemperature, type Temperature } from './temperature.js';
import type { ClusterSnapshot, Operator, SchedulerConfig, SnapshotShard } from './types.js';

const MERGEABLE: ReadonlySet<Temperature> = new Set(['cold', 'frozen']);

export function merge(snapshot: ClusterSnapshot, config: SchedulerConfig): Operator[] {
  const upNodeCount = nodeIdsIn(snapshot, 'up').length;
  if (upNodeCount === 0) return [];
  const busy = busyShardIds(snapshot);
  const { nowMs } = snapshot;
  const settled = (shard: SnapshotShard): boolean =>
    !busy.has(shard.id) && (shard.splitAtMs === undefined || nowMs - shard.splitAtMs >= config.mergeAfterSplitDelayMs) && MERGEABLE.has(shardTemperature(shard, nowMs, config));
  const operators: Operator[] = [];
  for (const shards of shardsByKeyspace(snapshot).values()) {
    // The smallest pairs first, so merged sizes stay even instead of one shard absorbing its neighbours in turn.
    const pairs = shards
      .slice(1)
      .map((right, i) => ({ left: shards[i]!, right }))
      .filter(({ left, right }) => left.slots.end === right.slots.start && settled(left) && settled(right))
      .sort((a, b) => a.left.bytes + a.right.bytes - (b.left.bytes + b.right.bytes) || a.left.slots.start - b.left.slots.start);
    const merging = new Set<string>();
    let shardCount = shards.length;
    for (const { left, right } of pairs) {
      if (merging.has(left.id) || merging.has(right.id)) continue;
      const threshold = splitThreshold(shardCount - 1, upNodeCount, config);
      const sizeMax = threshold.bytes * config.mergeSizeFraction;
      if (left.bytes >= sizeMax || right.bytes >= sizeMax) continue;
      const temperatures = `${shardTemperature(left, nowMs, config)} and ${shardTemperature(right, nowMs, config)}`;
      operators.push({
        kind: 'merge',
        shardId: left.id,
        withShardId: right.id,
        scheduler: 'merge',
        reason:
          `bytes ${formatBytes(left.bytes)} and ${formatBytes(right.bytes)} < ${formatBytes(sizeMax)} (${config.mergeSizeFraction} of ${formatBytes(threshold.bytes)}, ${threshold.because} after the merge), ` +
          `${temperatures} over ${formatDuration(config.temperatureWindowMs)}`,
      });
      merging.add(left.id).add(right.id);
      shardCount--;
    }
  }
  return operators;
}

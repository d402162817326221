/**
 * Split by size: a shard larger than its keyspace's phase threshold splits at its middle slot, largest
 * first, until the keyspace holds `shardsPerKeyspaceMax` shards. A one-slot shard cannot split. Pure.
 */
import { formatBytes } from './figures.js';
import { busyShardIds, compareIds, nodeIdsIn, shardsByKeyspace } from './snapshot-views.js';
import { splitThreshold } from './split-phase.js';
import type { ClusterSnapshot, Operator, SchedulerConfig } from './types.js';

export function sizeSplit(snapshot: ClusterSnapshot, config: SchedulerConfig): Operator[] {
  const upNodeCount = nodeIdsIn(snapshot, 'up').length;
  if (upNodeCount === 0) return [];
  const busy = busyShardIds(snapshot);
  const operators: Operator[] = [];
  for (const shards of shardsByKeyspace(snapshot).values()) {
    let shardCount = shards.length;
    const largestFirst = shards.filter((s) => !busy.has(s.id)).sort((a, b) => b.bytes - a.bytes || compareIds(a.id, b.id));
    for (const shard of largestFirst) {
      if (shardCount >= config.shardsPerKeyspaceMax) break;
      const threshold = splitThreshold(shardCount, upNodeCount, config);
      const { start, end } = shard.slots;
      if (shard.bytes <= threshold.bytes || end - start < 2) continue;
      operators.push({
        kind: 'split',
        shardId: shard.id,
        atSlot: start + Math.floor((end - start) / 2),
        scheduler: 'size-split',
        reason: `bytes ${formatBytes(shard.bytes)} > ${formatBytes(threshold.bytes)} (${threshold.because})`,
      });
      shardCount++;
    }
  }
  return operators;
}

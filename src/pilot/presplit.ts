/**
 * Presplitting a hash keyspace (seed 003: shards per node × nodes) and placing the replicas of the new
 * shards. Pure functions of their arguments, so every pilot replica places shards identically.
 */
import { assert } from '../common/errors.js';

/** A half-open range [start, end) of slots. */
export interface SlotRange {
  readonly start: number;
  readonly end: number;
}

/**
 * Splits [0, slotCount) into `shardCount` contiguous ranges whose sizes differ by at most 1; the first
 * `slotCount mod shardCount` ranges are the larger ones.
 */
export function presplitSlots(slotCount: number, shardCount: number): SlotRange[] {
  assert(Number.isInteger(shardCount) && shardCount >= 1 && shardCount <= slotCount, `shard count ${shardCount} out of 1..${slotCount}`);
  const base = Math.floor(slotCount / shardCount);
  const larger = slotCount % shardCount;
  const ranges: SlotRange[] = [];
  let start = 0;
  for (let i = 0; i < shardCount; i++) {
    const end = start + base + (i < larger ? 1 : 0);
    ranges.push({ start, end });
    start = end;
  }
  assert(start === slotCount, 'presplit ranges must cover every slot');
  return ranges;
}

/**
 * The replicas of the `shardIndex`-th new shard, leader first: `replicaCount` consecutive nodes starting at
 * `shardIndex mod n`. Leaders go round-robin over `nodeIds`, and as long as `replicaCount ≤ n` the
 * replicas of a shard are distinct and every node holds the same number of replicas (±1).
 */
export function placeReplicas(shardIndex: number, nodeIds: readonly string[], replicaCount: number): string[] {
  assert(replicaCount >= 1 && replicaCount <= nodeIds.length, `replica count ${replicaCount} out of 1..${nodeIds.length}`);
  const replicas: string[] = [];
  for (let k = 0; k < replicaCount; k++) replicas.push(nodeIds[(shardIndex + k) % nodeIds.length]!);
  return replicas;
}

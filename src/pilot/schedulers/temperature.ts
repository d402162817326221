/**
 * A shard's temperature from its load (seed 001's hot/warm/cold/frozen, which it judged by last access
 * alone): frozen when nothing was served for `frozenAfterMs`; hot at a mean of `hotOpsPerSecMin` over the
 * window; cold when the window was watched whole and no sample exceeded `coldOpsPerSecMax`; warm otherwise,
 * including a shard not watched long enough to tell. Merge reads it; the API and metrics will show it. Pure.
 */
import { meanOpsPerSec, maxOpsPerSec, opsWindow } from './ops-window.js';
import type { SchedulerConfig, SnapshotShard } from './types.js';

export type Temperature = 'hot' | 'warm' | 'cold' | 'frozen';

export function shardTemperature(shard: SnapshotShard, nowMs: number, config: SchedulerConfig): Temperature {
  if (nowMs - shard.lastAccessMs >= config.frozenAfterMs) return 'frozen';
  const window = opsWindow(shard.opsSamples, nowMs, config.temperatureWindowMs);
  if (window.samples.length > 0 && meanOpsPerSec(window) >= config.hotOpsPerSecMin) return 'hot';
  if (window.full && maxOpsPerSec(window) <= config.coldOpsPerSecMax) return 'cold';
  return 'warm';
}

/** The shard's mean ops/s over the temperature window: what "hottest" ranks by. */
export function shardLoad(shard: SnapshotShard, nowMs: number, config: SchedulerConfig): number {
  return meanOpsPerSec(opsWindow(shard.opsSamples, nowMs, config.temperatureWindowMs));
}

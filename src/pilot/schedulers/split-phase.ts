/**
 * The size above which a keyspace's shards split (seed 003's phases): few shards per node split early, so a
 * young keyspace spreads over the cluster; many split late, so a large one does not fragment. Pure.
 */
import { figure } from './figures.js';
import type { SchedulerConfig } from './types.js';

export interface SplitThreshold {
  readonly bytes: number;
  /** Why this threshold, e.g. `phase 1: 3 shards per node < 8`. */
  readonly because: string;
}

/** The threshold for a keyspace of `shardCount` shards over `upNodeCount` up nodes. */
export function splitThreshold(shardCount: number, upNodeCount: number, config: SchedulerConfig): SplitThreshold {
  const perNode = shardCount / Math.max(1, upNodeCount);
  const index = config.splitPhases.findIndex((p) => perNode < p.shardsPerNodeBelow);
  if (index >= 0) {
    const phase = config.splitPhases[index]!;
    return { bytes: phase.splitAboveBytes, because: `phase ${index + 1}: ${figure(perNode)} shards per node < ${phase.shardsPerNodeBelow}` };
  }
  const last = config.splitPhases.at(-1);
  const past = last === undefined ? '' : ` ≥ ${last.shardsPerNodeBelow}`;
  return { bytes: config.splitForceBytes, because: `phase ${config.splitPhases.length + 1}: ${figure(perNode)} shards per node${past}` };
}

/**
 * One scheduling round: every scheduler in priority order — repair and drain first (a shard short of
 * replicas is at risk), then splits, merges and rebalancing — and the limits over what they propose. An
 * operator is started unless it touches a shard in a task or one already given an operator this round, a
 * split would pass `maxSplits` or the keyspace's shard limit, a split or merge would give a node more than
 * `maxSplitsPerNode`, or a replica change would pass `maxMoves` in flight. Held operators are returned with
 * the limit that held them; the next round proposes them again from the newer snapshot. Pure.
 */
import { drain } from './drain.js';
import { leaderRebalance } from './leader-rebalance.js';
import { loadSplit, unsplittableHotSlots } from './load-split.js';
import { merge } from './merge.js';
import { replicaRebalance } from './replica-rebalance.js';
import { repair } from './repair.js';
import { sizeSplit } from './size-split.js';
import { busyShardIds } from './snapshot-views.js';
import type { ClusterSnapshot, Finding, Operator, Scheduler, SchedulerConfig, SnapshotShard } from './types.js';

/** Highest priority first. */
export const SCHEDULERS: readonly Scheduler[] = [repair, drain, sizeSplit, loadSplit, merge, replicaRebalance, leaderRebalance];

export interface HeldOperator {
  readonly operator: Operator;
  /** The limit that held it back, with the figures. */
  readonly limit: string;
}

export interface SchedulingRound {
  /** To start now, in priority order. */
  readonly operators: readonly Operator[];
  readonly findings: readonly Finding[];
  readonly held: readonly HeldOperator[];
}

/** The shards an operator changes. */
function shardIdsOf(operator: Operator): string[] {
  return operator.kind === 'merge' ? [operator.shardId, operator.withShardId] : [operator.shardId];
}

/** `schedulers`: those to run, a selection of `SCHEDULERS` in its order; all by default. */
export function runSchedulers(snapshot: ClusterSnapshot, config: SchedulerConfig, schedulers: readonly Scheduler[] = SCHEDULERS): SchedulingRound {
  const shardById = new Map<string, SnapshotShard>(snapshot.shards.map((s) => [s.id, s]));
  const busy = busyShardIds(snapshot);
  const touched = new Set<string>();
  let moves = snapshot.tasks.filter((t) => t.kind === 'move').length;
  let splits = snapshot.tasks.filter((t) => t.kind === 'split').length;
  const reshapesByNode = new Map<string, number>();
  const countReshapes = (nodeIds: readonly string[]): void => {
    for (const node of new Set(nodeIds)) reshapesByNode.set(node, (reshapesByNode.get(node) ?? 0) + 1);
  };
  for (const task of snapshot.tasks) if (task.kind !== 'move') countReshapes(task.nodeIds);
  const shardsByKeyspace = new Map<string, number>();
  for (const shard of snapshot.shards) shardsByKeyspace.set(shard.keyspace, (shardsByKeyspace.get(shard.keyspace) ?? 0) + 1);

  const nodesOf = (operator: Operator): string[] => shardIdsOf(operator).flatMap((id) => shardById.get(id)?.replicas ?? []);
  const limitOf = (operator: Operator): string | undefined => {
    const shardIds = shardIdsOf(operator);
    const inTask = shardIds.find((id) => busy.has(id));
    if (inTask !== undefined) return `${inTask} is in a task`;
    const taken = shardIds.find((id) => touched.has(id));
    if (taken !== undefined) return `${taken} already has an operator this round`;
    if (operator.kind === 'add-replica' || operator.kind === 'remove-replica') {
      return moves >= config.maxMoves ? `${moves} moves in flight, max ${config.maxMoves}` : undefined;
    }
    if (operator.kind === 'transfer-leader') return undefined;
    if (operator.kind === 'split') {
      if (splits >= config.maxSplits) return `${splits} splits in flight, max ${config.maxSplits}`;
      const keyspace = shardById.get(operator.shardId)?.keyspace ?? '';
      const count = shardsByKeyspace.get(keyspace) ?? 0;
      if (count >= config.shardsPerKeyspaceMax) return `keyspace ${keyspace} holds ${count} shards, max ${config.shardsPerKeyspaceMax}`;
    }
    const crowded = nodesOf(operator).find((n) => (reshapesByNode.get(n) ?? 0) >= config.maxSplitsPerNode);
    if (crowded !== undefined) return `${crowded} takes part in ${reshapesByNode.get(crowded)} splits or merges, max ${config.maxSplitsPerNode}`;
    return undefined;
  };
  const start = (operator: Operator): void => {
    for (const id of shardIdsOf(operator)) touched.add(id);
    if (operator.kind === 'add-replica' || operator.kind === 'remove-replica') moves++;
    if (operator.kind === 'split') {
      splits++;
      const keyspace = shardById.get(operator.shardId)?.keyspace ?? '';
      shardsByKeyspace.set(keyspace, (shardsByKeyspace.get(keyspace) ?? 0) + 1);
    }
    if (operator.kind === 'split' || operator.kind === 'merge') countReshapes(nodesOf(operator));
  };

  const operators: Operator[] = [];
  const held: HeldOperator[] = [];
  for (const operator of schedulers.flatMap((scheduler) => scheduler(snapshot, config))) {
    const limit = limitOf(operator);
    if (limit === undefined) {
      start(operator);
      operators.push(operator);
    } else {
      held.push({ operator, limit });
    }
  }
  return { operators, findings: unsplittableHotSlots(snapshot, config), held };
}

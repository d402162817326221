/**
 * The cluster as the schedulers see it, built from the pilot's replicated state, what its leader heard in
 * heartbeats (liveness and the shards' statistics) and the ops/s samples the scheduler driver kept. Pure:
 * the clock comes in as `nowMs`.
 */
import type { ShardStats } from '../../common/protocol.js';
import { isFinalStatus } from '../../split/phases.js';
import type { PilotState, SplitTask } from '../pilot-state.js';
import { nodesInSplit } from '../split-tasks.js';
import { compareIds } from './snapshot-views.js';
import type { ClusterSnapshot, OpsSample, SnapshotNode, SnapshotShard, TaskInFlight } from './types.js';

/** A node's liveness as the serving leader sees it now. */
export interface NodeLivenessView {
  readonly up: boolean;
  /** When it was last heard from; undefined if never since this replica took the lead. */
  readonly lastSeenMs: number | undefined;
}

export interface SnapshotSources {
  readonly nowMs: number;
  readonly state: PilotState;
  /** By node id; a node missing here is taken as up. */
  readonly liveness: ReadonlyMap<string, NodeLivenessView>;
  /** The latest statistics reported for each shard (its leader's where known), by shard id. */
  readonly stats: ReadonlyMap<string, ShardStats>;
  /** Each shard's ops/s samples over the recent window, oldest first, by shard id. */
  readonly opsSamples: ReadonlyMap<string, readonly OpsSample[]>;
}

export function clusterSnapshot(sources: SnapshotSources): ClusterSnapshot {
  const { nowMs, state } = sources;
  const tasks = state.splitTasks ?? [];
  const outstanding = tasks.filter((t) => !isFinalStatus(t.status));
  const nodes = state.nodes.map((node): SnapshotNode => {
    const view = sources.liveness.get(node.id);
    const up = view?.up ?? true;
    // A node never heard from by this leader was last seen, at the latest, when it joined.
    return up ? { id: node.id, state: 'up', downSinceMs: undefined } : { id: node.id, state: 'down', downSinceMs: view?.lastSeenMs ?? node.joinedAtMs };
  });
  const shards = state.shards.map((shard): SnapshotShard => {
    const stats = sources.stats.get(shard.id);
    return {
      id: shard.id,
      keyspace: shard.keyspace,
      slots: { start: shard.start, end: shard.end },
      replicas: shard.replicas,
      leader: shard.leader ?? undefined,
      bytes: stats?.bytes ?? 0,
      keys: stats?.keys ?? 0,
      opsSamples: sources.opsSamples.get(shard.id) ?? [],
      lastAccessMs: stats?.last_access_ms ?? 0,
      splitAtMs: lastSplitAtMs(shard.id, tasks),
      inTask: shard.split !== undefined || outstanding.some((t) => t.sourceShard === shard.id || t.targetShard === shard.id),
    };
  });
  const inFlight = outstanding.map(
    (task): TaskInFlight => ({ kind: 'split', shardIds: [task.sourceShard, task.targetShard], nodeIds: [...nodesInSplit(task, state.shards)].sort(compareIds) }),
  );
  return { nowMs, nodes, shards, tasks: inFlight };
}

/** When a split last gave the shard its range: the switch of the newest task that reached it with the shard as source or target. */
function lastSplitAtMs(shardId: string, tasks: readonly SplitTask[]): number | undefined {
  let atMs: number | undefined;
  for (const task of tasks) {
    if (task.sourceShard !== shardId && task.targetShard !== shardId) continue;
    const switchedAtMs = task.phases.cleanup ?? task.phases.completed;
    if (switchedAtMs !== undefined && (atMs === undefined || switchedAtMs > atMs)) atMs = switchedAtMs;
  }
  return atMs;
}

/**
 * A shard's samples once `sample` is taken: appended when newer than the last, and those older than the
 * window of `windowMs` ending at `nowMs` dropped, all but the newest of them, which shows the window was
 * watched whole.
 */
export function keptOpsSamples(samples: readonly OpsSample[], sample: OpsSample, nowMs: number, windowMs: number): OpsSample[] {
  const last = samples.at(-1);
  const all = last === undefined || sample.atMs > last.atMs ? [...samples, sample] : [...samples];
  const startMs = nowMs - windowMs;
  const firstInWindow = all.findIndex((s) => s.atMs >= startMs);
  if (firstInWindow === -1) return all.slice(-1);
  return all.slice(Math.max(0, firstInWindow - 1));
}

/** Small snapshots for the scheduler tests, a pure operator applier, and seeded random clusters. */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { sortedIds } from '../../../src/pilot/schedulers/snapshot-views.js';
import {
  type ClusterSnapshot,
  type OpsSample,
  type Operator,
  SCHEDULER_CONFIG_DEFAULT,
  type Scheduler,
  type SchedulerConfig,
  type SnapshotNode,
  type SnapshotNodeState,
  type SnapshotShard,
  type TaskInFlight,
} from '../../../src/pilot/schedulers/types.js';

export const MIB = 1024 ** 2;
export const GIB = 1024 ** 3;
/** A hundred days after the epoch, so "frozen" (30 days untouched) can be expressed. */
export const NOW_MS = 100 * 24 * 3_600_000;
export const SLOT_COUNT = 16384;

export function node(id: string, state: SnapshotNodeState = 'up', downSinceMs?: number): SnapshotNode {
  return { id, state, downSinceMs };
}

export function nodes(count: number): SnapshotNode[] {
  return Array.from({ length: count }, (_, i) => node(`node${i + 1}`));
}

type ShardInit = Partial<Omit<SnapshotShard, 'id' | 'slots'>> & { start?: number; end?: number };

/** A shard of the `default` keyspace; owns every slot and is led by its first replica unless told. */
export function shard(id: string, init: ShardInit = {}): SnapshotShard {
  const { start = 0, end = SLOT_COUNT, ...rest } = init;
  const replicas = rest.replicas ?? [];
  return {
    id,
    keyspace: 'default',
    slots: { start, end },
    replicas,
    leader: replicas[0],
    bytes: 0,
    keys: 0,
    opsSamples: [],
    lastAccessMs: NOW_MS,
    splitAtMs: undefined,
    inTask: false,
    ...rest,
  };
}

export function snapshot(snapshotNodes: readonly SnapshotNode[], shards: readonly SnapshotShard[], tasks: readonly TaskInFlight[] = [], nowMs = NOW_MS): ClusterSnapshot {
  return { nowMs, nodes: snapshotNodes, shards, tasks };
}

/** A sample every 5 s over the `windowMs` before `nowMs`, the window's start included. */
export function steady(opsPerSec: number, windowMs: number, nowMs = NOW_MS): OpsSample[] {
  const samples: OpsSample[] = [];
  for (let atMs = nowMs - windowMs; atMs <= nowMs; atMs += 5000) samples.push({ atMs, opsPerSec });
  return samples;
}

/** `split shard_1 at 8192`, `merge shard_1 with shard_2`, `add-replica shard_1 on node4`. */
export function brief(operator: Operator): string {
  switch (operator.kind) {
    case 'split':
      return `split ${operator.shardId} at ${operator.atSlot}`;
    case 'merge':
      return `merge ${operator.shardId} with ${operator.withShardId}`;
    default:
      return `${operator.kind} ${operator.shardId} on ${operator.nodeId}`;
  }
}

/**
 * The snapshot once `operator` has been carried out; a removed leader's shard elects its first remaining
 * replica; a split's new shard is named after its first slot, which no other shard has.
 */
export function applyOperator(before: ClusterSnapshot, operator: Operator): ClusterSnapshot {
  const change = (fn: (s: SnapshotShard) => SnapshotShard[]): ClusterSnapshot => ({
    ...before,
    shards: before.shards.flatMap((s) => (s.id === operator.shardId ? fn(s) : [s])),
  });
  switch (operator.kind) {
    case 'add-replica':
      return change((s) => [{ ...s, replicas: [...s.replicas, operator.nodeId] }]);
    case 'remove-replica':
      return change((s) => {
        const replicas = s.replicas.filter((n) => n !== operator.nodeId);
        return [{ ...s, replicas, leader: s.leader === operator.nodeId ? sortedIds(replicas)[0] : s.leader }];
      });
    case 'transfer-leader':
      return change((s) => [{ ...s, leader: operator.nodeId }]);
    case 'split':
      return change((s) => [
        { ...s, slots: { start: s.slots.start, end: operator.atSlot }, bytes: s.bytes / 2, splitAtMs: before.nowMs, opsSamples: [] },
        { ...s, id: `split_at_${operator.atSlot}`, slots: { start: operator.atSlot, end: s.slots.end }, bytes: s.bytes / 2, splitAtMs: before.nowMs, opsSamples: [] },
      ]);
    case 'merge': {
      const right = before.shards.find((s) => s.id === operator.withShardId)!;
      const merged = change((s) => [{ ...s, slots: { start: s.slots.start, end: right.slots.end }, bytes: s.bytes + right.bytes }]);
      return { ...merged, shards: merged.shards.filter((s) => s.id !== right.id) };
    }
  }
}

/** Per-node counts of replicas and of leaders among `nodeIds`. */
export function countsOf(snap: ClusterSnapshot, nodeIds: readonly string[]): { replicas: number[]; leaders: number[] } {
  return {
    replicas: nodeIds.map((n) => snap.shards.filter((s) => s.replicas.includes(n)).length),
    leaders: nodeIds.map((n) => snap.shards.filter((s) => s.leader === n).length),
  };
}

export function spread(counts: readonly number[]): number {
  return Math.max(...counts) - Math.min(...counts);
}

/** Shard ids `shard_01`, `shard_02`, ... in id order. */
export function shardId(n: number): string {
  return `shard_${String(n).padStart(2, '0')}`;
}

/** `count` contiguous shards over every slot, `shard_01` first, each on `replicas`; `init(i)` sets the rest. */
export function keyspace(count: number, replicas: readonly string[], init: (i: number) => ShardInit = () => ({})): SnapshotShard[] {
  const width = SLOT_COUNT / count;
  return Array.from({ length: count }, (_, i) => shard(shardId(i + 1), { start: Math.round(i * width), end: Math.round((i + 1) * width), replicas, ...init(i) }));
}

export interface SchedulerCase {
  readonly name: string;
  readonly snapshot: ClusterSnapshot;
  readonly config?: Partial<SchedulerConfig>;
  /** The operators, by `brief`, in order. */
  readonly expected: readonly string[];
}

/** Runs each case as a test named by its sentence, asserting the exact operators. */
export function runCases(scheduler: Scheduler, cases: readonly SchedulerCase[]): void {
  for (const c of cases) {
    it(c.name, () => {
      assert.deepEqual(scheduler(c.snapshot, { ...SCHEDULER_CONFIG_DEFAULT, ...c.config }).map(brief), c.expected);
    });
  }
}
